CREATE TYPE "public"."notification_channel" AS ENUM('EMAIL', 'SMS', 'PUSH');--> statement-breakpoint
CREATE TYPE "public"."notification_status" AS ENUM('PENDING', 'RETRYING', 'SENT', 'DELIVERED', 'OPENED', 'FAILED', 'DEAD_LETTERED');--> statement-breakpoint
CREATE TYPE "public"."notification_priority" AS ENUM('critical', 'medium', 'low');--> statement-breakpoint
CREATE TABLE "notification_attachments" (
	"notification_id" text NOT NULL,
	"blob_id" text NOT NULL,
	"position" integer NOT NULL,
	"filename" text NOT NULL,
	"content_type" text NOT NULL,
	"size" integer NOT NULL,
	"sha256" text NOT NULL,
	CONSTRAINT "notification_attachments_notification_id_position_pk" PRIMARY KEY("notification_id","position")
);
--> statement-breakpoint
CREATE TABLE "notification_status_history" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"notification_id" text NOT NULL,
	"from_status" "notification_status",
	"to_status" "notification_status" NOT NULL,
	"reason" text,
	"at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notifications" (
	"id" text PRIMARY KEY NOT NULL,
	"idempotency_key" text,
	"request_hash" text,
	"user_id" text,
	"channel" "notification_channel" NOT NULL,
	"priority" "notification_priority" NOT NULL,
	"template_id" text,
	"template_version" integer,
	"template_params" jsonb,
	"sender" text,
	"recipient" text NOT NULL,
	"subject" text,
	"body" text NOT NULL,
	"body_html" text,
	"correlation_id" text,
	"status" "notification_status" DEFAULT 'PENDING' NOT NULL,
	"delivery_attempts" integer DEFAULT 0 NOT NULL,
	"last_attempted_at" timestamp with time zone,
	"error_message" text,
	"provider" text,
	"provider_message_id" text,
	"workflow_id" text NOT NULL,
	"deadline_at" timestamp with time zone NOT NULL,
	"late" boolean DEFAULT false NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	"delivered_at" timestamp with time zone,
	"opened_at" timestamp with time zone,
	"failed_at" timestamp with time zone,
	"dead_lettered_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "recipients" (
	"user_id" text PRIMARY KEY NOT NULL,
	"email" text,
	"phone" text,
	"push_tokens" text[] DEFAULT '{}'::text[] NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "templates" (
	"id" text NOT NULL,
	"version" integer NOT NULL,
	"channel" "notification_channel" NOT NULL,
	"subject" text,
	"body" text NOT NULL,
	"format" text DEFAULT 'text' NOT NULL,
	"params" text[] DEFAULT '{}'::text[] NOT NULL,
	"rate_limit_count" integer,
	"rate_limit_window_seconds" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "templates_id_version_pk" PRIMARY KEY("id","version")
);
--> statement-breakpoint
CREATE TABLE "webhook_events" (
	"provider" text NOT NULL,
	"event_id" text NOT NULL,
	"event" text NOT NULL,
	"notification_id" text,
	"provider_message_id" text,
	"occurred_at" timestamp with time zone,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"payload" jsonb NOT NULL,
	CONSTRAINT "webhook_events_provider_event_id_pk" PRIMARY KEY("provider","event_id")
);
--> statement-breakpoint
ALTER TABLE "notification_attachments" ADD CONSTRAINT "notification_attachments_notification_id_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "public"."notifications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notification_attachments" ADD CONSTRAINT "notification_attachments_blob_id_blobs_id_fk" FOREIGN KEY ("blob_id") REFERENCES "public"."blobs"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "notification_status_history" ADD CONSTRAINT "notification_status_history_notification_id_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "public"."notifications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "notification_status_history_notification_idx" ON "notification_status_history" USING btree ("notification_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "notifications_idempotency_key_idx" ON "notifications" USING btree ("idempotency_key");--> statement-breakpoint
CREATE INDEX "notifications_provider_message_id_idx" ON "notifications" USING btree ("provider_message_id");--> statement-breakpoint
CREATE INDEX "notifications_user_idx" ON "notifications" USING btree ("user_id","id");--> statement-breakpoint
CREATE INDEX "notifications_status_idx" ON "notifications" USING btree ("status","id");--> statement-breakpoint
CREATE INDEX "notifications_correlation_idx" ON "notifications" USING btree ("correlation_id");