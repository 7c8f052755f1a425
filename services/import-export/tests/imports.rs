//! IE-1, IE-2: a client file in seed 000's layout imports with a result for every row — created,
//! skipped as a duplicate naming the client it matched, or refused with its row, column and
//! reason — and the same file twice changes nothing.
mod support;

use loyalty_api::client::v1 as clients;
use loyalty_api::importexport::v1 as pb;
use support::*;

/// Seed 000's standard layout, as a Lithuanian shop exports it (semicolons).
const FILE: &str = "\
Vardas;Pavardė;El. paštas;Telefonas;Gimimo data;Adresas;Miestas;Pastabos
Šarūnė;Žemaitė;sarune@example.lt;;1985-03-09;Gedimino pr. 1;Vilnius;nuolatinė
Jonas;Jonaitis;;+370 612 34567;09.11.1979;;Kaunas;
Ona;Senoji;ONA@example.lt;;;;;
Rūta;Dviguba;ruta@example.lt;;;;;
Rūta;Dviguba;Ruta@Example.LT;;;;;pirmoji eilutė jau yra
Petras;Ateities;petras@example.lt;;2999-01-01;;;
;Bevardė;bevarde@example.lt;;;;;
Ieva;Be Kontaktų;;;;;;
Tomas;Blogas;tomas(at)example.lt;;;;;
";

#[tokio::test]
async fn a_standard_file_imports_with_a_report_for_every_row() {
    let app = start().await;
    let mut people_api = client_api(&app);
    let mut ona = clients::Client { first_name: "Ona".into(), last_name: "Senoji".into(), ..Default::default() };
    ona.email = "ona@example.lt".into();
    ona.phone = "+37061200001".into();
    let ona = people_api
        .create_client(clients::CreateClientRequest { client: Some(ona), ..Default::default() })
        .await
        .expect("an existing client")
        .into_inner();

    let mut api = admin(&app);
    let job = import(&mut api, header("f1"), FILE.as_bytes()).await;
    assert_eq!(job.state(), pb::JobState::Succeeded, "{job:?}");
    assert_eq!(
        (job.rows_total, job.rows_done, job.rows_imported, job.duplicate_warnings, job.rows_failed),
        (9, 9, 3, 2, 4),
        "{job:?}"
    );
    assert_eq!((job.encoding.as_str(), job.delimiter.as_str()), ("utf-8", ";"));

    let reports = reports(&mut api, &job.id).await;
    let by_row = |row: i64| reports.iter().find(|r| r.0 == row).unwrap_or_else(|| panic!("row {row} in {reports:?}"));
    assert_eq!(reports.iter().map(|r| r.0).collect::<Vec<_>>(), [4, 6, 7, 8, 9, 10], "rows 2, 3 and 5 were created");
    let (_, severity, violations, matched) = by_row(4);
    assert_eq!((severity.as_str(), matched.as_str()), ("duplicate_warning", ona.id.as_str()));
    assert_eq!(violations[0].0, "El. paštas");
    let (_, severity, _, matched) = by_row(6);
    assert_eq!(severity, "duplicate_warning", "the second row of one person matches the first");
    assert!(!matched.is_empty());
    assert_eq!(by_row(7).2[0].0, "Gimimo data");
    assert_eq!(by_row(8).2, [("Vardas".to_string(), "is required".to_string())]);
    assert_eq!(by_row(9).2[0].0, "El. paštas", "no email and no phone");
    assert_eq!(by_row(10).2[0].0, "El. paštas");
    assert!(by_row(10).1 == "error");

    let found = people(&mut people_api).await;
    let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["Jonas", "Ona", "Rūta", "Šarūnė"], "the good rows and the existing client, nothing else");
    let sarune = &people_api
        .list_clients(clients::ListClientsRequest { query: "sarune@example.lt".into(), ..Default::default() })
        .await
        .expect("search")
        .into_inner()
        .clients[0];
    assert_eq!(
        (sarune.last_name.as_str(), sarune.city.as_str(), sarune.notes.as_str()),
        ("Žemaitė", "Vilnius", "nuolatinė")
    );
    assert_eq!(sarune.birth_date.as_ref().map(|d| (d.year, d.month, d.day)), Some((1985, 3, 9)));
    assert_eq!(sarune.added_by(), clients::AddedBy::Import);

    // The error file holds the refused rows in the uploaded layout, with a reason last.
    let errors = error_file(&mut api, &job.id).await;
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(lines[0], "Vardas;Pavardė;El. paštas;Telefonas;Gimimo data;Adresas;Miestas;Pastabos;reason");
    assert_eq!(lines.len(), 5, "the header and the four refused rows: {errors}");
    assert!(
        lines[1].starts_with("Petras;Ateities;petras@example.lt;;2999-01-01;;;;row 7: Gimimo data:"),
        "{}",
        lines[1]
    );
}

#[tokio::test]
async fn the_same_file_twice_changes_nothing_and_the_same_upload_is_the_same_job() {
    let app = start().await;
    let mut api = admin(&app);
    let first = import(&mut api, header("twice-1"), FILE.as_bytes()).await;
    assert_eq!(first.rows_imported, 4);
    let mut people_api = client_api(&app);
    let before = people(&mut people_api).await;
    let second = import(&mut api, header("twice-2"), FILE.as_bytes()).await;
    assert_eq!((second.rows_imported, second.duplicate_warnings, second.rows_failed), (0, 5, 4), "{second:?}");
    assert_eq!(people(&mut people_api).await, before, "the second import created nobody");
    let again = upload(&mut api, header("twice-1"), FILE.as_bytes()).await.expect("the same upload again");
    assert_eq!(again.id, first.id, "an upload id names one job");

    // Existing clients may be errors instead of warnings.
    let strict = pb::ImportHeader { existing: pb::ExistingClients::Fail as i32, ..header("twice-3") };
    let third = import(&mut api, strict, FILE.as_bytes()).await;
    assert_eq!((third.rows_imported, third.duplicate_warnings, third.rows_failed), (0, 0, 9), "{third:?}");
}

#[tokio::test]
async fn a_dry_run_reports_everything_and_writes_nothing() {
    let app = start().await;
    let mut api = admin(&app);
    let dry = pb::ImportHeader { dry_run: true, ..header("dry") };
    let job = import(&mut api, dry, FILE.as_bytes()).await;
    assert!(job.dry_run);
    assert_eq!((job.rows_imported, job.duplicate_warnings, job.rows_failed), (4, 1, 4), "{job:?}");
    assert_eq!(reports(&mut api, &job.id).await.len(), 5);
    assert!(people(&mut client_api(&app)).await.is_empty(), "a dry run writes nothing");
}

#[tokio::test]
async fn a_mapping_names_other_layouts_and_consents_keep_their_dates() {
    let app = start().await;
    let mut api = admin(&app);
    let file =
        "Given,Family,Mail,Newsletter,Since,Joined\nEglė,Kazlauskė,egle@example.lt,taip,2021-05-04,2018-01-02 10:30\n";
    let mapping =
        [("Given", "first_name"), ("Family", "last_name"), ("Mail", "email"), ("Newsletter", "email_consent")];
    let mut h = header("mapped");
    h.column_mapping = mapping.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
    h.column_mapping.insert("Since".into(), "consent_changed_at".into());
    h.column_mapping.insert("Joined".into(), "registered_at".into());
    let job = import(&mut api, h, file.as_bytes()).await;
    assert_eq!(job.rows_imported, 1, "{job:?} {:?}", reports(&mut api, &job.id).await);
    let egle = &client_api(&app)
        .list_clients(clients::ListClientsRequest { query: "egle@example.lt".into(), ..Default::default() })
        .await
        .expect("search")
        .into_inner()
        .clients[0];
    let consent = &egle.consents[0];
    assert_eq!(consent.status(), loyalty_api::common::v1::ConsentStatus::Subscribed);
    assert_eq!(consent.changed_at.as_ref().map(|t| t.seconds), Some(1_620_086_400), "2021-05-04, as the file says");
    assert_eq!(consent.source, "import");
    assert_eq!(egle.registered_at.as_ref().map(|t| t.seconds), Some(1_514_889_000), "2018-01-02 10:30 UTC");
}
