import GRDB

extension RegistryStore {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-registry") { db in
            try db.execute(sql: """
            CREATE TABLE units (
                code TEXT PRIMARY KEY CHECK (length(code) = 18),
                name TEXT NOT NULL CHECK (length(name) > 0),
                status TEXT NOT NULL CHECK (status IN ('active','merged','deregistered')),
                successor TEXT REFERENCES units(code),
                broker_user TEXT NOT NULL UNIQUE,
                created_at REAL NOT NULL,
                enrolled_at REAL
            );
            CREATE TABLE unit_names (
                code TEXT NOT NULL REFERENCES units(code),
                name TEXT NOT NULL,
                valid_from REAL NOT NULL,
                valid_to REAL,
                PRIMARY KEY (code, valid_from)
            );
            CREATE TABLE enrolment_tokens (
                token_sha256 TEXT PRIMARY KEY,
                code TEXT NOT NULL REFERENCES units(code),
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL,
                used_at REAL
            );
            CREATE TABLE certificates (
                serial TEXT PRIMARY KEY,
                code TEXT NOT NULL REFERENCES units(code),
                fingerprint TEXT NOT NULL UNIQUE,
                der BLOB NOT NULL,
                not_before REAL NOT NULL,
                not_after REAL NOT NULL,
                issued_at REAL NOT NULL,
                revoked_at REAL,
                revocation_reason TEXT
            );
            CREATE TABLE admin_tokens (
                id TEXT PRIMARY KEY,
                label TEXT NOT NULL,
                secret_hash TEXT NOT NULL CHECK (secret_hash LIKE 'scrypt$%'),
                created_at REAL NOT NULL
            );
            CREATE TABLE directory (
                version INTEGER PRIMARY KEY,
                issued_at REAL NOT NULL,
                signed BLOB NOT NULL
            );
            CREATE TABLE audit_log (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                at REAL NOT NULL,
                actor TEXT NOT NULL,
                action TEXT NOT NULL,
                subject TEXT,
                detail TEXT
            );
            """)
        }
        m.registerMigration("v2-lifecycle") { db in
            try db.execute(sql: """
            ALTER TABLE units ADD COLUMN parent TEXT;
            ALTER TABLE units ADD COLUMN contact TEXT;
            ALTER TABLE units ADD COLUMN head TEXT;
            ALTER TABLE units ADD COLUMN roster_state TEXT NOT NULL DEFAULT 'unfiled'
                CHECK (roster_state IN ('unfiled','confirmed','needs-reconfirmation','revoked'));
            CREATE TABLE requests (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL CHECK (kind IN ('apply','rename','merge','deregister')),
                subject TEXT NOT NULL,
                payload TEXT NOT NULL,
                state TEXT NOT NULL CHECK (state IN ('pending','approved','rejected','cancelled','applied')),
                requested_by TEXT NOT NULL,
                requested_at REAL NOT NULL,
                effective_at REAL,
                decided_by TEXT,
                decided_at REAL,
                reason TEXT,
                applied_at REAL,
                applicant_secret_sha256 TEXT
            );
            CREATE INDEX requests_state ON requests(state, effective_at);
            CREATE TABLE unit_tokens (
                id TEXT PRIMARY KEY,
                code TEXT NOT NULL REFERENCES units(code),
                secret_hash TEXT NOT NULL CHECK (secret_hash LIKE 'scrypt$%'),
                created_at REAL NOT NULL,
                revoked_at REAL
            );
            CREATE TABLE roster (
                code TEXT NOT NULL REFERENCES units(code),
                account TEXT NOT NULL,
                name TEXT NOT NULL,
                role TEXT NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                filed_at REAL NOT NULL,
                PRIMARY KEY (code, account)
            );
            ALTER TABLE audit_log ADD COLUMN prev_hash TEXT NOT NULL DEFAULT '';
            ALTER TABLE audit_log ADD COLUMN hash TEXT NOT NULL DEFAULT '';
            """)
        }
        return m
    }
}
