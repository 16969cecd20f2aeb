import GRDB

extension GatewayStore {
    /// Named migrations; constraints live in the schema so no code path can store a half record.
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1-gateway") { db in
            try db.execute(sql: """
            CREATE TABLE outbox (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                created_at REAL NOT NULL,
                in_reply_to TEXT,
                document_json TEXT,
                receipt_json TEXT,
                envelope BLOB,
                payload_sha256 TEXT,
                CHECK (kind IN ('document','report','request','reply','notice','receipt')),
                CHECK ((envelope IS NULL) = (payload_sha256 IS NULL))
            );
            CREATE TABLE outbox_parts (
                document_id TEXT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
                idx INTEGER NOT NULL,
                name TEXT NOT NULL,
                media_type TEXT NOT NULL,
                size INTEGER NOT NULL CHECK (size >= 0),
                sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
                data BLOB NOT NULL,
                PRIMARY KEY (document_id, idx),
                CHECK (length(data) = size)
            );
            CREATE TABLE deliveries (
                document_id TEXT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
                recipient TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('main','cc')),
                state TEXT NOT NULL CHECK (state IN ('queued','published','delivered','rejected')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at REAL NOT NULL,
                last_error TEXT,
                published_at REAL,
                delivered_at REAL,
                delivered_by TEXT,
                receipt_id TEXT,
                reason TEXT,
                PRIMARY KEY (document_id, recipient)
            );
            CREATE INDEX deliveries_due ON deliveries(state, next_attempt_at);
            CREATE TABLE inbox (
                id TEXT PRIMARY KEY,
                sender TEXT NOT NULL,
                sender_name TEXT,
                kind TEXT NOT NULL,
                title TEXT,
                number TEXT,
                doc_type TEXT,
                created TEXT NOT NULL,
                received_at REAL NOT NULL,
                on_behalf_of TEXT,
                envelope BLOB NOT NULL,
                payload_sha256 TEXT NOT NULL,
                receipt_id TEXT NOT NULL REFERENCES outbox(id)
            );
            CREATE TABLE inbox_parts (
                document_id TEXT NOT NULL REFERENCES inbox(id) ON DELETE CASCADE,
                idx INTEGER NOT NULL,
                name TEXT NOT NULL,
                media_type TEXT NOT NULL,
                size INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                data BLOB NOT NULL,
                PRIMARY KEY (document_id, idx),
                CHECK (length(data) = size)
            );
            CREATE TABLE receipts (
                id TEXT PRIMARY KEY,
                document_id TEXT NOT NULL,
                from_unit TEXT NOT NULL,
                status TEXT NOT NULL,
                reason TEXT,
                detail TEXT,
                on_behalf_of TEXT,
                received_at REAL NOT NULL,
                envelope BLOB NOT NULL
            );
            CREATE TABLE quarantine (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                received_at REAL NOT NULL,
                reason TEXT NOT NULL,
                detail TEXT NOT NULL,
                message_id TEXT,
                user_id TEXT,
                routing_key TEXT,
                content_type TEXT,
                claimed_sender TEXT,
                receipt_id TEXT,
                body BLOB NOT NULL
            );
            CREATE TABLE trail (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                at REAL NOT NULL,
                document_id TEXT NOT NULL,
                unit TEXT,
                event TEXT NOT NULL,
                detail TEXT
            );
            CREATE INDEX trail_doc ON trail(document_id, id);
            CREATE TABLE directory_cache (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                version INTEGER NOT NULL,
                fetched_at REAL NOT NULL,
                signed BLOB NOT NULL
            );
            """)
        }
        m.registerMigration("v2-transfers") { db in
            try db.execute(sql: """
            CREATE TABLE transfers (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                from_unit TEXT NOT NULL,
                at REAL NOT NULL,
                inbox_count INTEGER NOT NULL,
                outbox_count INTEGER NOT NULL,
                source TEXT NOT NULL
            );
            CREATE TABLE transferred (
                id TEXT NOT NULL,
                box TEXT NOT NULL CHECK (box IN ('inbox','outbox')),
                transfer_id INTEGER NOT NULL REFERENCES transfers(id),
                from_unit TEXT NOT NULL,
                kind TEXT NOT NULL,
                title TEXT,
                counterpart TEXT,
                states TEXT,
                envelope BLOB,
                PRIMARY KEY (id, box)
            );
            CREATE TABLE transferred_parts (
                document_id TEXT NOT NULL,
                box TEXT NOT NULL,
                idx INTEGER NOT NULL,
                name TEXT NOT NULL,
                media_type TEXT NOT NULL,
                size INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                data BLOB NOT NULL,
                PRIMARY KEY (document_id, box, idx),
                FOREIGN KEY (document_id, box) REFERENCES transferred(id, box)
            );
            """)
        }
        return m
    }
}
