ALTER TABLE "attachments" ADD COLUMN "preview_key" text;--> statement-breakpoint
ALTER TABLE "attachments" ADD COLUMN "preview_width" integer;--> statement-breakpoint
ALTER TABLE "attachments" ADD COLUMN "preview_height" integer;