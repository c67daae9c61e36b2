//! What ordering keeps about a customer besides orders — their cart and shipping addresses —
//! and the one place that erases it.
//!
//! Every change to a customer's cart or addresses first locks their `shopper` row, so the
//! limits (lines per cart, addresses per customer, one default address) hold under concurrent
//! requests of the same customer without locking anyone else.

use sqlx::MySqlConnection;
use uuid::Uuid;

/// Locks the customer's `shopper` row until the transaction ends, creating it on first use.
pub async fn lock(transaction: &mut MySqlConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    sqlx::query("INSERT INTO shopper (user_id) VALUES (?) ON DUPLICATE KEY UPDATE user_id = user_id")
        .bind(user_id.to_string())
        .execute(&mut *transaction)
        .await?;
    sqlx::query("SELECT user_id FROM shopper WHERE user_id = ? FOR UPDATE")
        .bind(user_id.to_string())
        .fetch_optional(&mut *transaction)
        .await?;
    Ok(())
}

/// Erases the customer's cart, its add keys and their shipping addresses in the caller's
/// transaction (for an account that is withdrawn). Orders keep their own address snapshots.
pub async fn erase_customer(transaction: &mut MySqlConnection, user_id: Uuid) -> Result<(), sqlx::Error> {
    let user_id = user_id.to_string();
    for statement in [
        "DELETE FROM cart_line WHERE user_id = ?",
        "DELETE FROM cart_add WHERE user_id = ?",
        "DELETE FROM address WHERE user_id = ?",
        "DELETE FROM shopper WHERE user_id = ?",
    ] {
        sqlx::query(statement)
            .bind(&user_id)
            .execute(&mut *transaction)
            .await?;
    }
    Ok(())
}
