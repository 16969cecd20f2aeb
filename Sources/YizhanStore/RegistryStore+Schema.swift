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
        m.registerMigration("v3-seals") { db in
            try db.execute(sql: """
            CREATE TABLE seals (
                id TEXT PRIMARY KEY,
                unit TEXT NOT NULL REFERENCES units(code),
                state TEXT NOT NULL CHECK (state IN ('applied','approved','rejected','in-use','retiring','destroyed')),
                reason TEXT NOT NULL CHECK (reason IN ('new','renamed','merged','damaged')),
                head TEXT NOT NULL CHECK (length(head) > 0),
                algorithm TEXT NOT NULL CHECK (algorithm IN ('ed25519','sm2')),
                image BLOB NOT NULL,
                image_media_type TEXT NOT NULL CHECK (image_media_type IN ('image/svg+xml','image/png')),
                image_sha256 TEXT NOT NULL CHECK (length(image_sha256) = 64),
                replaces TEXT REFERENCES seals(id),
                applied_by TEXT NOT NULL,
                applied_at REAL NOT NULL,
                decided_by TEXT,
                decided_at REAL,
                decision_reason TEXT,
                cert_serial TEXT UNIQUE,
                cert_der BLOB,
                made_at REAL,
                made_witnesses TEXT,
                remake_required TEXT,
                revoked_at REAL,
                revocation_reason TEXT,
                destroyed_at REAL,
                destroy_witnesses TEXT,
                destroy_reason TEXT,
                key_wiped_at REAL,
                CHECK (state NOT IN ('in-use','retiring','destroyed') OR cert_serial IS NOT NULL OR made_at IS NULL),
                CHECK (state != 'in-use' OR (cert_serial IS NOT NULL AND made_witnesses IS NOT NULL AND revoked_at IS NULL)),
                CHECK (state != 'retiring' OR revoked_at IS NOT NULL),
                CHECK (state != 'destroyed' OR destroyed_at IS NOT NULL)
            );
            CREATE INDEX seals_unit ON seals(unit, state);
            CREATE TABLE prints (
                code TEXT PRIMARY KEY,
                seal_id TEXT NOT NULL REFERENCES seals(id),
                unit TEXT NOT NULL,
                unit_name TEXT NOT NULL,
                document_id TEXT NOT NULL,
                title TEXT NOT NULL,
                number TEXT,
                payload_sha256 TEXT NOT NULL CHECK (length(payload_sha256) = 64),
                stamped_at REAL NOT NULL,
                printed_at REAL NOT NULL,
                printed_by TEXT NOT NULL
            );
            """)
        }
        return m
    }
}
