ALTER TYPE "public"."notification_status" ADD VALUE 'CANCELLED';--> statement-breakpoint
CREATE TABLE "notification_attempts" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"notification_id" text NOT NULL,
	"attempt" integer NOT NULL,
	"provider" text NOT NULL,
	"outcome" text NOT NULL,
	"error" text,
	"latency_ms" integer NOT NULL,
	"started_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "notification_minute_stats" (
	"owner" text NOT NULL,
	"minute" timestamp with time zone NOT NULL,
	"priority" "notification_priority" NOT NULL,
	"channel" "notification_channel" NOT NULL,
	"provider" text NOT NULL,
	"shard" smallint NOT NULL,
	"sent" integer DEFAULT 0 NOT NULL,
	"late" integer DEFAULT 0 NOT NULL,
	"failed" integer DEFAULT 0 NOT NULL,
	"throttled" integer DEFAULT 0 NOT NULL,
	"latency_ms_sum" bigint DEFAULT 0 NOT NULL,
	"latency_ms_max" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "notification_minute_stats_owner_minute_priority_channel_provider_shard_pk" PRIMARY KEY("owner","minute","priority","channel","provider","shard")
);
--> statement-breakpoint
CREATE TABLE "notification_retry_batches" (
	"id" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"filters" jsonb NOT NULL,
	"max" integer NOT NULL,
	"total" integer,
	"retried" integer DEFAULT 0 NOT NULL,
	"processed" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"finished_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "provider_circuits" (
	"worker" text NOT NULL,
	"provider" text NOT NULL,
	"state" text NOT NULL,
	"changed_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "provider_circuits_worker_provider_pk" PRIMARY KEY("worker","provider")
);
--> statement-breakpoint
ALTER TABLE "notification_attempts" ADD CONSTRAINT "notification_attempts_notification_id_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "public"."notifications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "notification_attempts_notification_idx" ON "notification_attempts" USING btree ("notification_id","id");--> statement-breakpoint
CREATE INDEX "notification_minute_stats_minute_idx" ON "notification_minute_stats" USING btree ("minute");--> statement-breakpoint
CREATE INDEX "notification_retry_batches_owner_idx" ON "notification_retry_batches" USING btree ("owner","created_at");--> statement-breakpoint
CREATE INDEX "notifications_owner_template_created_idx" ON "notifications" USING btree ("owner","template_id","created_at","id");--> statement-breakpoint
CREATE INDEX "notifications_owner_recipient_created_idx" ON "notifications" USING btree ("owner",left("recipient", 320),"created_at","id");--> statement-breakpoint
CREATE INDEX "notifications_owner_late_created_idx" ON "notifications" USING btree ("owner","created_at","id") WHERE late;--> statement-breakpoint
CREATE INDEX "notifications_owner_backlog_idx" ON "notifications" USING btree ("owner","priority","created_at") WHERE status in ('PENDING', 'RETRYING');--> statement-breakpoint
CREATE INDEX "webhook_events_notification_idx" ON "webhook_events" USING btree ("notification_id","received_at");