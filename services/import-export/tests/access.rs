//! The four questions for every RPC: the right it needs, the tenant (another tenant's job is
//! NOT_FOUND), the stores a scoped token may touch (its import registers clients only in its
//! stores, and it sees only jobs started within them), and the body fields it does not believe (a
//! row's store is checked against the token that started the job).
mod support;

use loyalty_api::client::v1 as clients;
use loyalty_api::importexport::v1 as pb;
use loyalty_testkit::support::TENANT;
use support::*;
use tonic::Code;

const FILE: &str = "Vardas,Pavardė,El. paštas,Parduotuvė\nOna,Vilnietė,ona@example.lt,\nJonas,Kaunietis,jonas@example.lt,KNS-01\nRūta,Vilnietė,ruta@example.lt,VLN-01\n";

async fn stores(app: &loyalty_testkit::TestApp) {
    let mut c = client_api(app);
    for id in ["VLN-01", "KNS-01"] {
        let store = clients::Store { id: id.into(), name: id.into(), city: "Vilnius".into(), ..Default::default() };
        c.create_store(clients::CreateStoreRequest { store: Some(store) }).await.expect("store");
    }
}

#[tokio::test]
async fn each_rpc_needs_its_right() {
    let app = start().await;
    let mut admin_api = admin(&app);
    let job = import(&mut admin_api, header("rights"), FILE.as_bytes()).await;
    let mut reader = api(&app, &app.token(TENANT, &["clients.read", "jobs.read"]));
    let denied = upload(&mut reader, header("r2"), FILE.as_bytes()).await.expect_err("no import right");
    assert_eq!(denied.code(), Code::PermissionDenied);
    let by_id = || pb::GetJobRequest { job_id: job.id.clone() };
    assert_eq!(
        reader.get_job(by_id()).await.expect_err("import job").code(),
        Code::NotFound,
        "an import needs import.run to be seen"
    );
    let rows = pb::ListRowReportsRequest { job_id: job.id.clone(), page: None };
    assert_eq!(reader.list_row_reports(rows.clone()).await.expect_err("reports").code(), Code::PermissionDenied);
    let listed = reader.list_jobs(pb::ListJobsRequest::default()).await.expect("list").into_inner();
    assert!(listed.jobs.is_empty(), "an exporter does not list imports");
    let mut importer = api(&app, &app.token(TENANT, &["import.run"]));
    assert_eq!(importer.get_job(by_id()).await.expect_err("no jobs.read").code(), Code::PermissionDenied);
    importer.list_row_reports(rows).await.expect("import.run reads reports");
    let upload_of = pb::GetUploadRequest { upload_id: "rights".into() };
    assert_eq!(reader.get_upload(upload_of).await.expect_err("uploads").code(), Code::PermissionDenied);
    let export = pb::StartExportRequest::default();
    assert_eq!(importer.start_export(export).await.expect_err("no export right").code(), Code::PermissionDenied);
}

#[tokio::test]
async fn another_tenants_jobs_and_uploads_do_not_exist() {
    let app = start().await;
    let mut mine = admin(&app);
    let job = import(&mut mine, header("t1"), FILE.as_bytes()).await;
    let mut theirs = api(&app, &app.admin_token("globex"));
    let get = theirs.get_job(pb::GetJobRequest { job_id: job.id.clone() }).await;
    assert_eq!(get.expect_err("other tenant").code(), Code::NotFound);
    let cancel = theirs.cancel_job(pb::CancelJobRequest { job_id: job.id.clone() }).await;
    assert_eq!(cancel.expect_err("other tenant").code(), Code::NotFound);
    let file = theirs.download_error_file(pb::DownloadExportRequest { job_id: job.id.clone(), offset: 0 }).await;
    assert_eq!(file.err().map(|e| e.code()), Some(Code::NotFound));
    let up = theirs.get_upload(pb::GetUploadRequest { upload_id: "t1".into() }).await;
    assert_eq!(up.expect_err("other tenant").code(), Code::NotFound);
    // The same upload id in another tenant is another upload, and its rows another tenant's clients.
    let own = import(&mut theirs, header("t1"), FILE.as_bytes()).await;
    assert_ne!(own.id, job.id);
    assert_eq!(own.rows_imported, 1, "only the row without a store: globex has no stores: {own:?}");
    let bad = theirs.get_job(pb::GetJobRequest { job_id: "not-a-uuid".into() }).await.expect_err("bad id");
    assert_eq!(fields(&bad), ["job_id"]);
}

#[tokio::test]
async fn a_scoped_import_registers_clients_in_its_stores_only_and_sees_its_own_jobs() {
    let app = start().await;
    stores(&app).await;
    let token = app.store_token(TENANT, &["import.run", "jobs.read"], &["VLN-01"]);
    let mut cashier = api(&app, &token);
    let job = import(&mut cashier, header("scoped"), FILE.as_bytes()).await;
    assert_eq!((job.rows_imported, job.rows_failed), (2, 1), "{job:?}");
    let report = &reports(&mut cashier, &job.id).await[0];
    assert_eq!(report.0, 3);
    assert_eq!(report.2[0].0, "Parduotuvė", "the row's store is checked against the token: {report:?}");
    let mut people_api = client_api(&app);
    let listed = people_api
        .list_clients(clients::ListClientsRequest { query: "ona@example.lt".into(), ..Default::default() })
        .await
        .expect("search")
        .into_inner();
    assert_eq!(listed.clients[0].registration_store_id, "VLN-01", "a row without a store lands in the token's store");

    // A chain-wide job is not the cashier's to see; the cashier's job is the chain's.
    let chain = import(&mut admin(&app), header("chain"), FILE.as_bytes()).await;
    let hidden = cashier.get_job(pb::GetJobRequest { job_id: chain.id.clone() }).await;
    assert_eq!(hidden.expect_err("chain job").code(), Code::NotFound);
    let own = cashier.list_jobs(pb::ListJobsRequest::default()).await.expect("list").into_inner();
    assert_eq!(own.jobs.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(), [job.id.as_str()]);
    let all = admin(&app).list_jobs(pb::ListJobsRequest::default()).await.expect("list").into_inner();
    assert_eq!(all.page.map(|p| p.total_size), Some(2));
    let created_by = job.created_by.expect("who started it");
    assert_eq!(created_by.id, "dev", "the job keeps who started it");
}
