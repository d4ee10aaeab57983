-- SSH management of enrolled engines (`/admin/clusters/{id}/connection-test`, `/telemak/lifecycle`, `/service`,
-- `/logs`): how to log in, the host key pinned at first contact, the commands that manage a Linux host's service and
-- where its log is. No secret is stored here: a private key is referenced by its path on this machine.
ALTER TABLE engines ADD COLUMN ssh_key_path TEXT;   -- private key file (else ITHACA_SSH_KEY, else the SSH agent)
ALTER TABLE engines ADD COLUMN ssh_host_key TEXT;   -- pinned host key: SHA256:<base64, unpadded>, as ssh-keygen -l shows it
ALTER TABLE engines ADD COLUMN ssh_commands TEXT;   -- JSON {start?, stop?, status?}: shell commands of a Linux host
ALTER TABLE engines ADD COLUMN ssh_log_path TEXT;   -- log file (or glob) to tail; default for a Telemak ~/.telemak/logs/*
