-- Run once by the MariaDB container on an empty data folder: the admin account that
-- `local-stack/up --provision-only` uses to create schemas, users and tables.
CREATE USER IF NOT EXISTS 'stack_admin'@'%' IDENTIFIED BY 'local-admin';
GRANT ALL PRIVILEGES ON *.* TO 'stack_admin'@'%' WITH GRANT OPTION;
