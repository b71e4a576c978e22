DROP INDEX "notifications_user_idx";--> statement-breakpoint
DROP INDEX "notifications_status_idx";--> statement-breakpoint
DROP INDEX "notifications_correlation_idx";--> statement-breakpoint
CREATE INDEX "notifications_owner_user_created_idx" ON "notifications" USING btree ("owner","user_id","created_at","id");--> statement-breakpoint
CREATE INDEX "notifications_owner_status_created_idx" ON "notifications" USING btree ("owner","status","created_at","id");--> statement-breakpoint
CREATE INDEX "notifications_owner_correlation_created_idx" ON "notifications" USING btree ("owner","correlation_id","created_at","id");--> statement-breakpoint
CREATE INDEX "rate_limit_hits_at_idx" ON "rate_limit_hits" USING btree ("at");