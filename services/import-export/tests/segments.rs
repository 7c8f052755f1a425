//! Imported clients reach the read models like any other (segment counts them) and keep their
//! original registration, so a migrated base is not "new this month".
mod support;

use loyalty_api::filter::v1::{AllClients, Audience, audience::Source};
use loyalty_api::segment::v1 as spb;
use loyalty_testkit::support::{TENANT, segments};
use std::time::{Duration, Instant};
use support::*;

#[tokio::test]
async fn imported_clients_are_counted_by_segments_and_are_not_new() {
    let app = start_with_segments().await;
    let mut api = admin(&app);
    let mut file = "Vardas;Pavardė;El. paštas;Registracijos data;Email consent\n".to_string();
    for i in 0..30 {
        let consent = if i % 3 == 0 { "ne" } else { "taip" };
        file.push_str(&format!("Ona{i};Migrantė;ona{i}@example.lt;2019-05-0{} 12:00;{consent}\n", 1 + i % 9));
    }
    let job = import(&mut api, header("seg"), file.as_bytes()).await;
    assert_eq!(job.rows_imported, 30, "{job:?}");
    let mut seg = segments(&app, &app.admin_token(TENANT));
    let everyone = Audience { source: Some(Source::AllClients(AllClients {})) };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let count = seg.count_clients(spb::CountClientsRequest { audience: Some(everyone.clone()) }).await;
        if count.as_ref().map(|c| c.get_ref().count).unwrap_or(0) == 30 {
            break;
        }
        assert!(Instant::now() < deadline, "segment never counted the imported clients: {count:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let new = Audience { source: Some(Source::SegmentId("auto:new".into())) };
    let fresh =
        seg.count_clients(spb::CountClientsRequest { audience: Some(new) }).await.expect("auto:new").into_inner();
    assert_eq!(fresh.count, 0, "a migrated base registered years ago is not new this month");
}
