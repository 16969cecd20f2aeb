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
        // Workflows (sign-for, return, chase, adoption, replies, meetings, paper registrations) and
        // chunked transfers whose part bytes live in files under the store's `parts/` folder.
        m.registerMigration("v3-workflows-and-chunks") { db in
            try db.execute(sql: """
            CREATE TABLE outbox_v3 (
                id TEXT PRIMARY KEY,
                kind TEXT NOT NULL,
                created_at REAL NOT NULL,
                in_reply_to TEXT,
                document_json TEXT,
                receipt_json TEXT,
                extras_json TEXT,
                sign_for_by REAL,
                supersedes TEXT,
                envelope BLOB,
                payload_sha256 TEXT,
                CHECK (kind IN ('document','report','request','reply','notice','receipt','chase','attendance')),
                CHECK ((envelope IS NULL) = (payload_sha256 IS NULL))
            );
            INSERT INTO outbox_v3 (id, kind, created_at, in_reply_to, document_json, receipt_json, envelope, payload_sha256)
                SELECT id, kind, created_at, in_reply_to, document_json, receipt_json, envelope, payload_sha256 FROM outbox;
            DROP TABLE outbox;
            ALTER TABLE outbox_v3 RENAME TO outbox;
            CREATE INDEX outbox_unsigned ON outbox(created_at) WHERE envelope IS NULL;

            CREATE TABLE outbox_parts_v3 (
                document_id TEXT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
                idx INTEGER NOT NULL,
                name TEXT NOT NULL,
                media_type TEXT NOT NULL,
                size INTEGER NOT NULL CHECK (size >= 0),
                sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
                data BLOB,
                file TEXT,
                PRIMARY KEY (document_id, idx),
                CHECK ((data IS NULL) <> (file IS NULL)),
                CHECK (data IS NULL OR length(data) = size)
            );
            INSERT INTO outbox_parts_v3 (document_id, idx, name, media_type, size, sha256, data)
                SELECT document_id, idx, name, media_type, size, sha256, data FROM outbox_parts;
            DROP TABLE outbox_parts;
            ALTER TABLE outbox_parts_v3 RENAME TO outbox_parts;

            CREATE TABLE deliveries_v3 (
                document_id TEXT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
                recipient TEXT NOT NULL,
                role TEXT NOT NULL CHECK (role IN ('main','cc')),
                state TEXT NOT NULL CHECK (state IN ('queued','published','delivered','signed-for','returned','rejected')),
                attempts INTEGER NOT NULL DEFAULT 0,
                next_attempt_at REAL NOT NULL,
                last_error TEXT,
                published_at REAL,
                delivered_at REAL,
                delivered_by TEXT,
                receipt_id TEXT,
                reason TEXT,
                transfer_position INTEGER NOT NULL DEFAULT 0 CHECK (transfer_position >= 0),
                handled_at REAL,
                handled_by TEXT,
                outcome TEXT CHECK (outcome IN ('adopted','not-adopted')),
                outcome_at REAL,
                outcome_note TEXT,
                chases INTEGER NOT NULL DEFAULT 0,
                last_chased_at REAL,
                PRIMARY KEY (document_id, recipient),
                CHECK (state <> 'returned' OR reason IS NOT NULL)
            );
            INSERT INTO deliveries_v3 (document_id, recipient, role, state, attempts, next_attempt_at, last_error, published_at, delivered_at, delivered_by, receipt_id, reason)
                SELECT document_id, recipient, role, state, attempts, next_attempt_at, last_error, published_at, delivered_at, delivered_by, receipt_id, reason FROM deliveries;
            DROP TABLE deliveries;
            ALTER TABLE deliveries_v3 RENAME TO deliveries;
            CREATE INDEX deliveries_due ON deliveries(state, next_attempt_at);

            ALTER TABLE inbox ADD COLUMN state TEXT NOT NULL DEFAULT 'received' CHECK (state IN ('received','signed-for','returned'));
            ALTER TABLE inbox ADD COLUMN in_reply_to TEXT;
            ALTER TABLE inbox ADD COLUMN supersedes TEXT;
            ALTER TABLE inbox ADD COLUMN superseded_by TEXT;
            ALTER TABLE inbox ADD COLUMN urgency TEXT;
            ALTER TABLE inbox ADD COLUMN sign_for_by REAL;
            ALTER TABLE inbox ADD COLUMN handled_at REAL;
            ALTER TABLE inbox ADD COLUMN handled_by TEXT;
            ALTER TABLE inbox ADD COLUMN return_reason TEXT;
            ALTER TABLE inbox ADD COLUMN outcome TEXT CHECK (outcome IN ('adopted','not-adopted'));
            ALTER TABLE inbox ADD COLUMN outcome_note TEXT;
            ALTER TABLE inbox ADD COLUMN chases INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE inbox ADD COLUMN last_chased_at REAL;
            ALTER TABLE inbox ADD COLUMN last_chase_message TEXT;
            ALTER TABLE inbox ADD COLUMN extras_json TEXT;
            CREATE INDEX inbox_reply ON inbox(in_reply_to);

            CREATE TABLE inbox_parts_v3 (
                document_id TEXT NOT NULL REFERENCES inbox(id) ON DELETE CASCADE,
                idx INTEGER NOT NULL,
                name TEXT NOT NULL,
                media_type TEXT NOT NULL,
                size INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                data BLOB,
                file TEXT,
                PRIMARY KEY (document_id, idx),
                CHECK ((data IS NULL) <> (file IS NULL)),
                CHECK (data IS NULL OR length(data) = size)
            );
            INSERT INTO inbox_parts_v3 (document_id, idx, name, media_type, size, sha256, data)
                SELECT document_id, idx, name, media_type, size, sha256, data FROM inbox_parts;
            DROP TABLE inbox_parts;
            ALTER TABLE inbox_parts_v3 RENAME TO inbox_parts;

            CREATE TABLE transferred_parts_v3 (
                document_id TEXT NOT NULL,
                box TEXT NOT NULL,
                idx INTEGER NOT NULL,
                name TEXT NOT NULL,
                media_type TEXT NOT NULL,
                size INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                data BLOB,
                file TEXT,
                PRIMARY KEY (document_id, box, idx),
                FOREIGN KEY (document_id, box) REFERENCES transferred(id, box)
            );
            INSERT INTO transferred_parts_v3 (document_id, box, idx, name, media_type, size, sha256, data)
                SELECT document_id, box, idx, name, media_type, size, sha256, data FROM transferred_parts;
            DROP TABLE transferred_parts;
            ALTER TABLE transferred_parts_v3 RENAME TO transferred_parts;

            -- An incoming chunked document: verified envelope, parts being filled. Invisible until complete.
            CREATE TABLE incoming (
                id TEXT PRIMARY KEY,
                sender TEXT NOT NULL,
                user_id TEXT NOT NULL,
                envelope BLOB NOT NULL,
                payload_sha256 TEXT NOT NULL,
                on_behalf_of TEXT,
                chunk_size INTEGER NOT NULL CHECK (chunk_size > 0),
                started_at REAL NOT NULL
            );
            CREATE TABLE incoming_parts (
                document_id TEXT NOT NULL REFERENCES incoming(id) ON DELETE CASCADE,
                idx INTEGER NOT NULL,
                size INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                chunks INTEGER NOT NULL,
                file TEXT NOT NULL,
                PRIMARY KEY (document_id, idx)
            );
            CREATE TABLE incoming_chunks (
                document_id TEXT NOT NULL REFERENCES incoming(id) ON DELETE CASCADE,
                part INTEGER NOT NULL,
                idx INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                PRIMARY KEY (document_id, part, idx)
            );

            CREATE TABLE attendance (
                notice_id TEXT NOT NULL REFERENCES outbox(id),
                unit TEXT NOT NULL,
                attending INTEGER NOT NULL CHECK (attending IN (0, 1)),
                attendees_json TEXT NOT NULL,
                note TEXT,
                replied_at REAL NOT NULL,
                envelope_id TEXT NOT NULL,
                PRIMARY KEY (notice_id, unit)
            );

            -- 纸质公文登记: what a unit still sends or receives on paper, for the electronic share.
            CREATE TABLE paper (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                direction TEXT NOT NULL CHECK (direction IN ('sent','received')),
                kind TEXT NOT NULL CHECK (kind IN ('document','report','request')),
                counterpart TEXT NOT NULL,
                title TEXT NOT NULL CHECK (length(title) > 0),
                number TEXT,
                date TEXT NOT NULL CHECK (length(date) = 10),
                registered_at REAL NOT NULL,
                registered_by TEXT NOT NULL
            );
            """)
        }
        // Counted as chunks arrive, so that each chunk costs the same however large the part
        // (counting the rows on every chunk made a transfer quadratic in its chunks).
        m.registerMigration("v4-incoming-counters") { db in
            try db.execute(sql: """
            ALTER TABLE incoming ADD COLUMN total_chunks INTEGER NOT NULL DEFAULT 0;
            ALTER TABLE incoming ADD COLUMN stored_chunks INTEGER NOT NULL DEFAULT 0;
            UPDATE incoming SET
                total_chunks = (SELECT COALESCE(SUM(chunks), 0) FROM incoming_parts p WHERE p.document_id = incoming.id),
                stored_chunks = (SELECT COUNT(*) FROM incoming_chunks c WHERE c.document_id = incoming.id);
            """)
        }
        // The unit's seals: the key only inside `vault` (dual custody, see SealVault), cleared
        // when the seal is revoked; and who unlocked each stamping.
        m.registerMigration("v5-seals") { db in
            try db.execute(sql: """
            CREATE TABLE seals (
                id TEXT PRIMARY KEY,
                state TEXT NOT NULL CHECK (state IN ('making','in-use','wiped')),
                algorithm TEXT NOT NULL CHECK (algorithm IN ('ed25519','sm2')),
                certificate BLOB,
                vault TEXT,
                created_at REAL NOT NULL,
                made_at REAL,
                revoked_at REAL,
                revocation_reason TEXT,
                wiped_at REAL,
                wipe_reported_at REAL,
                CHECK (state != 'in-use' OR (certificate IS NOT NULL AND vault IS NOT NULL)),
                CHECK (state != 'wiped' OR (vault IS NULL AND wiped_at IS NOT NULL))
            );
            CREATE TABLE stamps (
                document_id TEXT PRIMARY KEY REFERENCES outbox(id),
                seal_id TEXT NOT NULL REFERENCES seals(id),
                custodians TEXT NOT NULL,
                stamped_at REAL NOT NULL
            );
            """)
        }
        // The few copies sent as chunked transfers, found without walking every queued copy: the
        // transfer loop looks for them four times a second, and with thousands of documents queued
        // that walk was a twelfth of a busy sender's CPU.
        m.registerMigration("v6-outbox-part-files") { db in
            try db.execute(sql: "CREATE INDEX outbox_parts_files ON outbox_parts(document_id) WHERE file IS NOT NULL")
        }
        // The gauges (`figures`, every few seconds and on every scrape) count what is open, not
        // what ever was: a receipt's copy stays "published" for good and every document ends
        // "delivered" or later, so counting through the outbox walked the whole history (105 ms of
        // a receiver's CPU at 15,000 documents, on one of its two threads, every five seconds). A
        // copy now says whether it carries a receipt and until when its document asks to be signed
        // for (both fixed when it is queued), and partial indexes hold only the open copies.
        m.registerMigration("v7-open-copies") { db in
            try db.execute(sql: """
                ALTER TABLE deliveries ADD COLUMN receipt_copy INTEGER NOT NULL DEFAULT 0 CHECK (receipt_copy IN (0, 1));
                ALTER TABLE deliveries ADD COLUMN sign_for_by REAL;
                UPDATE deliveries SET receipt_copy = 1 WHERE document_id IN (SELECT id FROM outbox WHERE kind = 'receipt');
                UPDATE deliveries SET sign_for_by = (SELECT o.sign_for_by FROM outbox o WHERE o.id = deliveries.document_id)
                    WHERE document_id IN (SELECT id FROM outbox WHERE sign_for_by IS NOT NULL);
                CREATE INDEX deliveries_open ON deliveries(document_id) WHERE receipt_copy = 0 AND state IN ('queued','published');
                CREATE INDEX deliveries_awaiting_sign_for ON deliveries(sign_for_by)
                    WHERE sign_for_by IS NOT NULL AND state IN ('queued','published','delivered');
                CREATE INDEX inbox_awaiting_sign_for ON inbox(sign_for_by) WHERE sign_for_by IS NOT NULL AND state = 'received';
                """)
        }
        return m
    }
}
