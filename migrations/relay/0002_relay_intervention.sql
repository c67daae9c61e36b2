-- What operators did to get a relay past a transaction it could not pass (docs/adr/0026).
--
-- `outbox-relay skip` and `outbox-relay republish` write one row here in the same
-- transaction that moves the relay's stored position past the transaction, so the position
-- never moves without a record of who moved it, why, and what was left unpublished.
CREATE TABLE relay_intervention (
    id                     BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    relay                  VARCHAR(64)   NOT NULL COMMENT 'name of the relay instance, as in relay_position',
    action                 ENUM('skip', 'republish') NOT NULL,
    gtid                   VARCHAR(64)   CHARACTER SET ascii NOT NULL COMMENT 'the transaction moved past',
    reason                 VARCHAR(2000) NOT NULL COMMENT 'why, in the operator''s words',
    position_before        VARCHAR(1024) CHARACTER SET ascii NOT NULL,
    position_after         VARCHAR(1024) CHARACTER SET ascii NOT NULL,
    statements             JSON          NOT NULL COMMENT 'the statements of the transaction that touch an outbox, as logged',
    problems               JSON          NOT NULL COMMENT 'other events of the transaction the relay could not read',
    published_event_ids    JSON          NOT NULL COMMENT 'outbox rows published by this action, in order',
    unpublished_event_ids  JSON          NOT NULL COMMENT 'outbox rows of the transaction this action leaves unpublished',
    performed_by           VARCHAR(255)  NOT NULL COMMENT 'the operating-system user who ran the command',
    database_account       VARCHAR(255)  NOT NULL COMMENT 'the MariaDB account it ran as',
    performed_at           DATETIME(6)   NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (id),
    KEY relay_intervention_by_relay (relay, performed_at),
    CONSTRAINT relay_intervention_reason_given CHECK (CHAR_LENGTH(TRIM(reason)) > 0)
) ENGINE = InnoDB;
