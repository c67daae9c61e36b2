-- The outbox relay's stored binlog position.
--
-- One row per relay (one relay per MariaDB primary; the name tells instances apart in tests
-- and future setups). The relay writes its row every ~200 ms after Kafka acknowledged every
-- event up to `gtid_position`, and resumes from it on start. The file and offset are for
-- people reading the table; resuming goes by GTID only.
CREATE TABLE relay_position (
    relay          VARCHAR(64)   NOT NULL COMMENT 'name of the relay instance',
    gtid_position  VARCHAR(1024) CHARACTER SET ascii NOT NULL COMMENT 'last delivered GTID per domain, as in @@gtid_binlog_pos',
    binlog_file    VARCHAR(255)  NOT NULL COMMENT 'binlog file of that position, for diagnostics',
    binlog_pos     BIGINT UNSIGNED NOT NULL COMMENT 'end offset in binlog_file, for diagnostics',
    updated_at     DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6),
    PRIMARY KEY (relay)
) ENGINE = InnoDB;
