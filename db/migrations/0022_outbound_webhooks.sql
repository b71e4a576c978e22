CREATE TYPE "public"."webhook_delivery_status" AS ENUM('PENDING', 'SUCCEEDED', 'FAILED');--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"event_id" text NOT NULL,
	"endpoint_id" text NOT NULL,
	"owner" text NOT NULL,
	"event_type" text NOT NULL,
	"ordering_key" text NOT NULL,
	"payload" jsonb NOT NULL,
	"status" "webhook_delivery_status" DEFAULT 'PENDING' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_attempt_at" timestamp with time zone,
	"last_status" integer,
	"last_duration_ms" integer,
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"completed_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "webhook_endpoints" (
	"id" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"url" text NOT NULL,
	"description" text,
	"event_types" text[] NOT NULL,
	"mailbox_id" text,
	"account_id" text,
	"enabled" boolean DEFAULT true NOT NULL,
	"disabled_at" timestamp with time zone,
	"disabled_reason" text,
	"secret_sealed" text NOT NULL,
	"previous_secret_sealed" text,
	"previous_secret_expires_at" timestamp with time zone,
	"failing_since" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "webhook_outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"source" text NOT NULL,
	"ordering_key" text NOT NULL,
	"data" jsonb NOT NULL,
	"occurred_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "webhook_deliveries_pending_idx" ON "webhook_deliveries" USING btree ("endpoint_id","id") WHERE "webhook_deliveries"."status" = 'PENDING';--> statement-breakpoint
CREATE INDEX "webhook_deliveries_lane_idx" ON "webhook_deliveries" USING btree ("endpoint_id","ordering_key","id") WHERE "webhook_deliveries"."status" = 'PENDING';--> statement-breakpoint
CREATE INDEX "webhook_deliveries_endpoint_created_idx" ON "webhook_deliveries" USING btree ("endpoint_id","created_at","id");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_completed_idx" ON "webhook_deliveries" USING btree ("completed_at");--> statement-breakpoint
CREATE INDEX "webhook_endpoints_owner_idx" ON "webhook_endpoints" USING btree ("owner","id");--> statement-breakpoint
-- Outbound webhooks read what the engine records. Each source table's trigger copies what a webhook needs
-- into webhook_outbox in the recording transaction, for tenants that have an endpoint: a rolled-back change
-- leaves nothing, a committed one is never missed, and a source that locks per key (an account's events,
-- a notification's row) copies in that key's commit order. NOTIFY wakes the projector on commit. Statuses
-- are compared as text: an enum value added earlier in the same migration run cannot be used yet.
CREATE FUNCTION "webhook_record"(p_owner text, p_source text, p_key text, p_data jsonb) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF p_owner IS NOT NULL AND EXISTS (SELECT 1 FROM "webhook_endpoints" WHERE "owner" = p_owner) THEN
    INSERT INTO "webhook_outbox" ("owner", "source", "ordering_key", "data") VALUES (p_owner, p_source, p_key, p_data);
    PERFORM pg_notify('webhook_outbox', '');
  END IF;
END $$;--> statement-breakpoint
CREATE FUNCTION "webhook_from_mailbox_event"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "webhook_record"((SELECT "owner" FROM "accounts" WHERE "id" = NEW."account_id"), 'mail', NEW."mailbox_id",
    jsonb_build_object('accountId', NEW."account_id", 'type', NEW."type", 'data', NEW."data"));
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "webhook_mailbox_events" AFTER INSERT ON "mailbox_events" FOR EACH ROW
  WHEN (NEW."type" IN ('messages', 'reload')) EXECUTE FUNCTION "webhook_from_mailbox_event"();--> statement-breakpoint
CREATE FUNCTION "webhook_from_mailbox"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  m "mailboxes";
BEGIN
  IF TG_OP = 'DELETE' THEN m := OLD; ELSE m := NEW; END IF;
  PERFORM "webhook_record"(m."owner", 'mailbox', m."id", jsonb_build_object(
    'mailboxId', m."id", 'accountId', m."account_id", 'provider', m."provider", 'address', m."address",
    'status', CASE WHEN TG_OP = 'DELETE' THEN 'UNLINKED' ELSE m."status"::text END,
    'previousStatus', CASE WHEN TG_OP = 'UPDATE' THEN OLD."status"::text END));
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "webhook_mailboxes_linked" AFTER INSERT OR DELETE ON "mailboxes" FOR EACH ROW EXECUTE FUNCTION "webhook_from_mailbox"();--> statement-breakpoint
CREATE TRIGGER "webhook_mailboxes_status" AFTER UPDATE OF "status" ON "mailboxes" FOR EACH ROW
  WHEN (OLD."status" IS DISTINCT FROM NEW."status") EXECUTE FUNCTION "webhook_from_mailbox"();--> statement-breakpoint
CREATE FUNCTION "webhook_from_notification_status"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  n record;
BEGIN
  SELECT "owner", "channel", "priority", "user_id", "correlation_id", "template_id" INTO n FROM "notifications" WHERE "id" = NEW."notification_id";
  PERFORM "webhook_record"(n."owner", 'notification', NEW."notification_id", jsonb_build_object(
    'notificationId', NEW."notification_id", 'status', NEW."to_status", 'previousStatus', NEW."from_status", 'reason', NEW."reason",
    'at', NEW."at", 'channel', n."channel", 'priority', n."priority", 'userId', n."user_id", 'correlationId', n."correlation_id",
    'templateId', n."template_id"));
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "webhook_notification_status" AFTER INSERT ON "notification_status_history" FOR EACH ROW
  WHEN (NEW."to_status"::text IN ('SENT', 'DELIVERED', 'OPENED', 'FAILED', 'DEAD_LETTERED', 'CANCELLED'))
  EXECUTE FUNCTION "webhook_from_notification_status"();--> statement-breakpoint
CREATE FUNCTION "webhook_from_mailing_counts"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "webhook_record"((SELECT "owner" FROM "mailings" WHERE "id" = NEW."mailing_id"), 'mailing_progress', NEW."mailing_id", jsonb_build_object(
    'mailingId', NEW."mailing_id", 'queued', NEW."count_queued", 'sending', NEW."count_sending", 'sent', NEW."count_sent",
    'failed', NEW."count_failed", 'invalid', NEW."count_invalid", 'duplicate', NEW."count_duplicate",
    'cancelled', NEW."count_cancelled", 'unknown', NEW."count_unknown"));
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "webhook_mailing_counts" AFTER UPDATE ON "mailing_counts" FOR EACH ROW
  WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION "webhook_from_mailing_counts"();--> statement-breakpoint
CREATE FUNCTION "webhook_from_mailing"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "webhook_record"(NEW."owner", 'mailing', NEW."id", jsonb_build_object(
    'mailingId', NEW."id", 'name', NEW."name", 'status', NEW."status", 'failureReason', NEW."failure_reason",
    'validRows', NEW."valid_rows", 'invalidRows', NEW."invalid_rows", 'duplicateRows', NEW."duplicate_rows"));
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "webhook_mailing_finished" AFTER UPDATE OF "status" ON "mailings" FOR EACH ROW
  WHEN (OLD."status" IS DISTINCT FROM NEW."status" AND NEW."status"::text IN ('COMPLETED', 'FAILED', 'CANCELLED'))
  EXECUTE FUNCTION "webhook_from_mailing"();--> statement-breakpoint
CREATE FUNCTION "webhook_from_schedule_firing"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM "webhook_record"((SELECT "owner" FROM "schedules" WHERE "id" = NEW."schedule_id"), 'schedule', NEW."schedule_id", jsonb_build_object(
    'scheduleId', NEW."schedule_id", 'scheduledAt', NEW."scheduled_at", 'firedAt', NEW."fired_at", 'outcome', NEW."outcome",
    'notificationId', NEW."notification_id", 'detail', NEW."detail"));
  RETURN NULL;
END $$;--> statement-breakpoint
CREATE TRIGGER "webhook_schedule_firings" AFTER INSERT ON "schedule_firings" FOR EACH ROW EXECUTE FUNCTION "webhook_from_schedule_firing"();
