CREATE TABLE "notification_starts" (
	"notification_id" text PRIMARY KEY NOT NULL,
	"start" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "notification_starts" ADD CONSTRAINT "notification_starts_notification_id_notifications_id_fk" FOREIGN KEY ("notification_id") REFERENCES "public"."notifications"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "notification_starts_created_idx" ON "notification_starts" USING btree ("created_at");