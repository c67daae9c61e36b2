//! Whether a customer may still place orders: ordering's projection of identity's
//! `user.locked`, `user.unlocked` and `user.withdrawn` into `ordering.customer_status`, the
//! `project-customer-status` function that keeps it, and the check place-order makes.
//!
//! Access tokens are verified locally and stay valid until they expire, minutes after an admin
//! locked the account. Where money moves, ordering does not wait for that: it refuses a
//! customer as soon as the status event has reached it (docs/adr/0048).
//!
//! Events of one user share a Kafka key and arrive in order, at least once, and may be
//! replayed from any point. The inbox skips an event id seen before; a status older than the
//! newest one applied is ignored (which also covers replays after the inbox was purged); and
//! a withdrawal is final whatever comes after it.
//!
//! A withdrawal is also where ordering erases what it keeps about the customer beyond its
//! books: [`erase_personal_data_of_customer`]. Orders stay.

use chrono::{DateTime, Utc};
use events::identity::AccountStatusEvent;
use sqlx::MySqlConnection;
use store::consumer::{Consumer, Received, Retryable};
use uuid::Uuid;

/// What ordering knows of a customer's account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomerStatus {
    /// Never locked, or unlocked again: every customer without a row.
    Active,
    Locked,
    /// Final.
    Withdrawn,
}

impl CustomerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Locked => "LOCKED",
            Self::Withdrawn => "WITHDRAWN",
        }
    }

    fn parse(stored: &str) -> Result<Self, sqlx::Error> {
        match stored {
            "ACTIVE" => Ok(Self::Active),
            "LOCKED" => Ok(Self::Locked),
            "WITHDRAWN" => Ok(Self::Withdrawn),
            other => Err(sqlx::Error::Decode(
                format!("unknown customer status {other:?}").into(),
            )),
        }
    }

    /// The status an event announces.
    pub fn of(event: &AccountStatusEvent) -> Self {
        match event {
            AccountStatusEvent::Locked(_) => Self::Locked,
            AccountStatusEvent::Unlocked(_) => Self::Active,
            AccountStatusEvent::Withdrawn(_) => Self::Withdrawn,
        }
    }

    /// Whether a customer in this status may place an order.
    pub fn may_order(self) -> Result<(), CustomerRefusal> {
        match self {
            Self::Active => Ok(()),
            Self::Locked => Err(CustomerRefusal::Locked),
            Self::Withdrawn => Err(CustomerRefusal::Withdrawn),
        }
    }
}

/// Why ordering refuses a customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CustomerRefusal {
    #[error("the customer's account is locked")]
    Locked,
    #[error("the customer's account was withdrawn")]
    Withdrawn,
}

/// What ordering knows of the customer `user_id`'s account.
pub async fn customer_status(
    executor: impl sqlx::MySqlExecutor<'_>,
    user_id: &str,
) -> Result<CustomerStatus, sqlx::Error> {
    let status: Option<String> = sqlx::query_scalar("SELECT status FROM customer_status WHERE user_id = ?")
        .bind(user_id)
        .fetch_optional(executor)
        .await?;
    status
        .as_deref()
        .map_or(Ok(CustomerStatus::Active), CustomerStatus::parse)
}

/// The `project-customer-status` function.
#[derive(Debug, Clone, Copy)]
pub struct ProjectCustomerStatus;

impl Consumer for ProjectCustomerStatus {
    const NAME: &'static str = "project-customer-status";
    type Event = AccountStatusEvent;
    type Error = CustomerStatusError;
    type Prepared = ();

    /// Applies one status event once. Database failures are transient; a bad event is not.
    #[tracing::instrument(skip_all, fields(user_id = %event.data.user_id()))]
    async fn apply(
        &self,
        transaction: &mut MySqlConnection,
        event: &Received<Self::Event>,
    ) -> Result<(), Self::Error> {
        let user_id = Uuid::parse_str(event.data.user_id())
            .map_err(|_| {
                CustomerStatusError::Invalid(format!("user id {:?} is not a UUID", event.data.user_id()))
            })?
            .to_string();
        let status = CustomerStatus::of(&event.data);
        write(transaction, &user_id, status, event.data.changed_at()).await?;
        if status == CustomerStatus::Withdrawn {
            erase_personal_data_of_customer(transaction, &user_id).await?;
        }
        tracing::info!(status = status.as_str(), "Customer status projected");
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CustomerStatusError {
    #[error("{0}")]
    Invalid(String),
    #[error("the database failed: {0}")]
    Database(#[from] sqlx::Error),
}

impl Retryable for CustomerStatusError {
    fn is_retryable(&self) -> bool {
        matches!(self, Self::Database(_))
    }
}

/// Moves the customer's row forward in time: a status older than the newest one applied is
/// ignored, and nothing replaces WITHDRAWN.
async fn write(
    connection: &mut MySqlConnection,
    user_id: &str,
    status: CustomerStatus,
    changed_at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    // MariaDB evaluates the assignments in order: `status` still sees the old
    // `last_event_at`.
    sqlx::query(
        "INSERT INTO customer_status (user_id, status, last_event_at) VALUES (?, ?, ?)
         ON DUPLICATE KEY UPDATE
           status = IF(status = 'WITHDRAWN', status,
                       IF(VALUES(status) = 'WITHDRAWN' OR VALUES(last_event_at) >= last_event_at,
                          VALUES(status), status)),
           last_event_at = GREATEST(last_event_at, VALUES(last_event_at))",
    )
    .bind(user_id)
    .bind(status.as_str())
    .bind(changed_at)
    .execute(connection)
    .await?;
    Ok(())
}

/// Erases what ordering keeps about a withdrawn customer beyond its books, in the
/// transaction that records the withdrawal: the cart, its add keys and the shipping addresses
/// (`shopper::erase_customer`). Orders, their lines, their history and the address copied onto
/// each order at checkout stay: they are the books (docs/adr/0048).
pub async fn erase_personal_data_of_customer(
    connection: &mut MySqlConnection,
    user_id: &str,
) -> Result<(), sqlx::Error> {
    let Ok(user_id) = uuid::Uuid::parse_str(user_id) else {
        // Ordering keys carts and addresses by the token's subject, always a UUID: an id that
        // is not one has nothing here.
        return Ok(());
    };
    crate::shopper::erase_customer(connection, user_id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_active_customer_may_order() {
        assert_eq!(CustomerStatus::Active.may_order(), Ok(()));
        assert_eq!(CustomerStatus::Locked.may_order(), Err(CustomerRefusal::Locked));
        assert_eq!(
            CustomerStatus::Withdrawn.may_order(),
            Err(CustomerRefusal::Withdrawn)
        );
    }

    #[test]
    fn every_status_reads_back_as_itself() {
        for status in [
            CustomerStatus::Active,
            CustomerStatus::Locked,
            CustomerStatus::Withdrawn,
        ] {
            assert_eq!(CustomerStatus::parse(status.as_str()).ok(), Some(status));
        }
        assert!(CustomerStatus::parse("GONE").is_err());
    }
}
