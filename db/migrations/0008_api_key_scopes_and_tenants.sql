ALTER TABLE "api_keys" ADD COLUMN "scopes" text[] DEFAULT '{read,send}'::text[] NOT NULL;--> statement-breakpoint
-- Existing rows: the owner is recoverable from a scoped idempotency key (`<owner>:<key>`); the rest go to the admin key.
ALTER TABLE "notifications" ADD COLUMN "owner" text;--> statement-breakpoint
UPDATE "notifications" SET "owner" = CASE WHEN "idempotency_key" LIKE '%:%' THEN split_part("idempotency_key", ':', 1) ELSE 'admin' END;--> statement-breakpoint
ALTER TABLE "notifications" ALTER COLUMN "owner" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "mailings" ADD COLUMN "owner" text;--> statement-breakpoint
UPDATE "mailings" SET "owner" = CASE WHEN "idempotency_key" LIKE '%:%' THEN split_part("idempotency_key", ':', 1) ELSE 'admin' END;--> statement-breakpoint
ALTER TABLE "mailings" ALTER COLUMN "owner" SET NOT NULL;--> statement-breakpoint
CREATE INDEX "notifications_owner_created_idx" ON "notifications" USING btree ("owner","created_at","id");--> statement-breakpoint
CREATE INDEX "mailings_owner_created_idx" ON "mailings" USING btree ("owner","created_at");
