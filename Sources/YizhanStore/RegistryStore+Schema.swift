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
        return m
    }
}
