-- Second factor (TOTP, RFC 6238): a secret being enrolled waits in
-- totp_pending until the user proves it with a first code. Secrets are sealed
-- (SM4 + HMAC-SM3) like the other sensitive columns.
ALTER TABLE users ADD COLUMN totp_pending TEXT;
