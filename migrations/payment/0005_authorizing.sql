-- authorize-payment calls the gateway between two short transactions, holding no connection
-- while it waits (docs/adr/0061). The first transaction sets this flag before the call: from
-- then on the gateway may hold an authorization that no row records yet. When a cancellation
-- turns the payment CANCELLED meanwhile, the delivery that gets the gateway's answer (or a
-- redelivery, which asks the idempotent gateway again) voids that authorization, so no hold
-- outlives a cancelled order.
ALTER TABLE payment
    ADD COLUMN authorizing BOOLEAN NOT NULL DEFAULT FALSE
        COMMENT 'an authorization was asked of the gateway; its answer may not be recorded yet';
