//! Crash safety of the trigger path: the dispatcher killed with SIGKILL in the middle of a
//! stream loses nothing once `local-stack/up` has brought it back. Kept in its own test binary
//! because it kills a process the other platform tests rely on.

use e2e::platform::{bring_the_stack_back, kill};
use e2e::projection::{DELIVERY, admin, producer, projected_count, publish_created};

const RECORDS: i64 = 1_000;

#[tokio::test]
async fn a_dispatcher_killed_mid_stream_loses_no_record_after_restart() {
    let admin = admin().await;
    let producer = producer();
    let prefix = format!("crash-{}-", uuid::Uuid::new_v4().simple());
    // Published concurrently, so the backlog is there before the dispatcher can drain it.
    let product_ids: Vec<String> = (0..RECORDS).map(|index| format!("{prefix}{index}")).collect();
    for chunk in product_ids.chunks(500) {
        futures::future::join_all(
            chunk
                .iter()
                .map(|product_id| publish_created(&producer, product_id, 100)),
        )
        .await;
    }
    DELIVERY
        .eventually("the first records projected", || async {
            projected_count(&admin, &prefix).await >= 10
        })
        .await;

    kill("trigger-dispatcher");
    let delivered_at_kill = projected_count(&admin, &prefix).await;
    assert!(
        delivered_at_kill < RECORDS,
        "the kill must land mid-stream for this test to mean anything"
    );

    bring_the_stack_back();

    DELIVERY
        .eventually("every record projected after the restart", || async {
            projected_count(&admin, &prefix).await == RECORDS
        })
        .await;
    eprintln!("{delivered_at_kill} of {RECORDS} records were projected when the dispatcher was killed");
}
