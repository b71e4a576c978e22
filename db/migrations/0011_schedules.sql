CREATE TYPE "public"."schedule_firing_outcome" AS ENUM('CREATED', 'DUPLICATE', 'RATE_LIMITED', 'REJECTED');--> statement-breakpoint
CREATE TYPE "public"."schedule_status" AS ENUM('ACTIVE', 'PAUSED', 'ARCHIVED');--> statement-breakpoint
CREATE TABLE "schedule_firings" (
	"schedule_id" text NOT NULL,
	"scheduled_at" timestamp (3) with time zone NOT NULL,
	"fired_at" timestamp with time zone DEFAULT now() NOT NULL,
	"outcome" "schedule_firing_outcome" NOT NULL,
	"notification_id" text,
	"detail" text,
	"workflow_id" text,
	CONSTRAINT "schedule_firings_schedule_id_scheduled_at_pk" PRIMARY KEY("schedule_id","scheduled_at")
);
--> statement-breakpoint
CREATE TABLE "schedules" (
	"id" text PRIMARY KEY NOT NULL,
	"owner" text NOT NULL,
	"name" text,
	"status" "schedule_status" DEFAULT 'ACTIVE' NOT NULL,
	"kind" text NOT NULL,
	"request_sealed" text NOT NULL,
	"spec" jsonb NOT NULL,
	"start_at" timestamp with time zone,
	"end_at" timestamp with time zone,
	"jitter_seconds" integer DEFAULT 0 NOT NULL,
	"catchup_window_seconds" integer NOT NULL,
	"pause_note" text,
	"temporal_schedule_id" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"archived_at" timestamp with time zone,
	"archive_reason" text
);
--> statement-breakpoint
ALTER TABLE "schedule_firings" ADD CONSTRAINT "schedule_firings_schedule_id_schedules_id_fk" FOREIGN KEY ("schedule_id") REFERENCES "public"."schedules"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "schedule_firings_recent_idx" ON "schedule_firings" USING btree ("schedule_id","fired_at");--> statement-breakpoint
CREATE INDEX "schedules_owner_status_idx" ON "schedules" USING btree ("owner","status","id");--> statement-breakpoint
CREATE INDEX "schedules_owner_idx" ON "schedules" USING btree ("owner","id");