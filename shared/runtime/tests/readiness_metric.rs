//! `function_ready` on /metrics follows the readiness checks at each scrape, so an alert sees a
//! function lose its database without anyone calling /readyz. One test in its own binary: the
//! metrics recorder is global to the process, and other tests scrape too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use http_body_util::BodyExt;
use runtime::http::HttpFunction;
use tower::ServiceExt;

async fn scrape(router: &Router) -> String {
    let response = router
        .clone()
        .oneshot(Request::get("/metrics").body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.into_body().collect().await.expect("body").to_bytes();
    String::from_utf8(bytes.to_vec()).expect("text")
}

fn ready_value(text: &str) -> Option<&str> {
    text.lines().find_map(|line| line.strip_prefix("function_ready "))
}

#[tokio::test]
async fn each_scrape_reports_whether_the_readiness_checks_pass_now() {
    let database_up = Arc::new(AtomicBool::new(true));
    let probe = Arc::clone(&database_up);
    let router = HttpFunction::new(Router::new().route("/things", get(|| async { "things" })))
        .readiness_check("database", move || {
            let up = probe.load(Ordering::SeqCst);
            async move {
                if up {
                    Ok(())
                } else {
                    Err("connection refused".to_owned())
                }
            }
        })
        .into_router();

    assert_eq!(ready_value(&scrape(&router).await), Some("1"));
    database_up.store(false, Ordering::SeqCst);
    assert_eq!(ready_value(&scrape(&router).await), Some("0"));
    database_up.store(true, Ordering::SeqCst);
    assert_eq!(ready_value(&scrape(&router).await), Some("1"));
}
