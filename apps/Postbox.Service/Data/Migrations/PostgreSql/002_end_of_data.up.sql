-- mail_deliveries and notifications: when the current attempt handed the end of the mail to the SMTP server (just before the final "."), committed before
-- that "." is sent. Set while the attempt is under way (status 'sending', or 'pending' for a notification), it marks an attempt whose outcome is unknown: the server may have accepted
-- the mail. Kept with status 'failed', it marks a delivery held as unconfirmed (never sent again without an operator).
ALTER TABLE {schema}.mail_deliveries ADD COLUMN IF NOT EXISTS end_of_data_at timestamptz NULL;
ALTER TABLE {schema}.notifications ADD COLUMN IF NOT EXISTS end_of_data_at timestamptz NULL;
