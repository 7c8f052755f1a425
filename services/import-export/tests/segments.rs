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

#[tokio::test]
async fn imported_lines_reach_the_product_filters() {
    let app = start_with_segments().await;
    let mut api = admin(&app);
    let people = "Vardas;Pavardė;El. paštas\nOna;Migrantė;ona@example.lt\nJonas;Migrantas;jonas@example.lt\n";
    let job = import(&mut api, header("people"), people.as_bytes()).await;
    assert_eq!(job.rows_imported, 2, "{job:?}");
    let history = "\
El. paštas;Čekio nr.;Pirkimo data;Parduotuvė;Prekės kodas;Kategorija;Kiekis;Suma
ona@example.lt;L-1;2021-05-04;VLN-01;KAVA-1;Gėrimai;2;7,00
ona@example.lt;L-1;2021-05-04;VLN-01;DUONA;Kepiniai;1;0,80
jonas@example.lt;L-2;2021-06-01;KNS-01;KAVA-1;Gėrimai;1;3,50
";
    let kind = loyalty_api::importexport::v1::ImportKind::Purchases as i32;
    let job =
        import(&mut api, loyalty_api::importexport::v1::ImportHeader { kind, ..header("lines") }, history.as_bytes());
    let job = job.await;
    assert_eq!((job.rows_imported, job.rows_failed), (3, 0), "{job:?}");
    let mut seg = segments(&app, &app.admin_token(TENANT));
    let mut count = async |text: &str| {
        let filter = seg.parse_filter(spb::ParseFilterRequest { filter_text: text.into() }).await.expect("parses");
        let audience = Audience { source: filter.into_inner().filter.map(Source::Filter) };
        let counted = seg.count_clients(spb::CountClientsRequest { audience: Some(audience) }).await;
        counted.expect("count").into_inner().count
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(r#"purchase_lines.sku any of ("KAVA-1")"#).await < 2 {
        assert!(Instant::now() < deadline, "segment never saw the imported lines");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(count(r#"purchase_lines.category any of ("Kepiniai")"#).await, 1, "Ona's bread");
    assert_eq!(count("purchases.sum >= 7.80").await, 1, "Ona's check is the sum of its lines");
}
