ALTER TYPE "public"."mailing_recipient_status" ADD VALUE 'UNKNOWN';--> statement-breakpoint
ALTER TABLE "mailings" ADD COLUMN "idempotency_key" text;--> statement-breakpoint
ALTER TABLE "mailings" ADD COLUMN "request_hash" text;--> statement-breakpoint
CREATE UNIQUE INDEX "mailings_idempotency_key_idx" ON "mailings" USING btree ("idempotency_key");