//! The demo chain's migration: the web shop's customer list, imported as seed 000's standard
//! layout (e-mail only, original registration dates and newsletter consents), with the two bad
//! rows and two repeated customers a real export has; then half of them's old cards and points.
use anyhow::Context;
use futures::StreamExt;
use loyalty_api::common::v1::FileChunk;
use loyalty_api::importexport::v1 as pb;
use loyalty_api::importexport::v1::import_export_service_client::ImportExportServiceClient;
use loyalty_api::importexport::v1::start_import_request::Part;
use loyalty_platform::auth::BearerToken;
use tonic::transport::Channel;

const FIRST: [&str; 10] =
    ["Austėja", "Gabija", "Kotryna", "Ugnė", "Emilija", "Lukas", "Matas", "Dominykas", "Nojus", "Jokūbas"];
const LAST: [&str; 10] = [
    "Paulauskaitė",
    "Vasiliauskaitė",
    "Butkutė",
    "Žukauskaitė",
    "Urbonaitė",
    "Navickas",
    "Stankevičius",
    "Kairys",
    "Balčiūnas",
    "Rimkus",
];

/// The web shop's export: 20 customers, one without a surname, one with a malformed birth date,
/// two who registered twice.
pub fn web_shop_file() -> String {
    let mut file =
        "Vardas;Pavardė;El. paštas;Telefonas;Gimimo data;Adresas;Miestas;Pastabos;Registracijos data;Email consent\n"
            .to_string();
    for i in 0..20 {
        let (first, last) = (FIRST[i % 10], LAST[(i * 3) % 10]);
        let email = format!("eshop.{}{}@example.lt", ascii(first), i);
        let birth = format!("19{}-0{}-1{}", 70 + i, 1 + i % 9, i % 10);
        let joined = format!("2019-0{}-1{} 12:00", 1 + i % 9, i % 10);
        let consent = if i % 3 == 0 { "ne" } else { "taip" };
        file.push_str(&format!("{first};{last};{email};;{birth};;Vilnius;e-parduotuvė;{joined};{consent}\n"));
    }
    file.push_str("Rasa;;rasa.eshop@example.lt;;;;Kaunas;;2020-02-02;taip\n");
    file.push_str("Tadas;Petrauskas;tadas.eshop@example.lt;;31.02.1990;;Kaunas;;2020-02-03;taip\n");
    file.push_str("Austėja;Paulauskaitė;ESHOP.austeja0@example.lt;;;;;antra paskyra;2021-01-01;taip\n");
    file.push_str("Gabija;Žukauskaitė;eshop.gabija1@example.lt;;;;;antra paskyra;2021-01-01;taip\n");
    file
}

fn ascii(name: &str) -> String {
    name.to_lowercase().replace('ė', "e").replace('ū', "u").replace('ę', "e").replace('š', "s").replace('ž', "z")
}

/// The web shop's old loyalty cards, issued when each customer registered: every other customer
/// of the list by e-mail.
pub fn web_shop_cards() -> String {
    let mut file = "Kortelės numeris;El. paštas;Išdavimo data\n".to_string();
    for i in (0..20).step_by(2) {
        let email = format!("eshop.{}{}@example.lt", ascii(FIRST[i % 10]), i);
        file.push_str(&format!("ESHOP{:04};{email};2019-0{}-1{}\n", 1000 + i, 1 + i % 9, i % 10));
    }
    file
}

/// The points those customers had in the web shop, as opening balances valid to the end of next
/// year.
pub fn web_shop_balances(today: time::Date) -> String {
    let mut file = "El. paštas;Taškai;Galioja iki\n".to_string();
    for i in (0..20).step_by(2) {
        let email = format!("eshop.{}{}@example.lt", ascii(FIRST[i % 10]), i);
        file.push_str(&format!("{email};{};{}-12-31\n", 150 + i * 35, today.year() + 1));
    }
    file
}

type Api = ImportExportServiceClient<tonic::service::interceptor::InterceptedService<Channel, BearerToken>>;

/// Uploads `file` as an import of `kind` and waits for its job to succeed.
async fn run(api: &mut Api, kind: pb::ImportKind, file_name: &str, file: String) -> anyhow::Result<pb::Job> {
    let header = pb::ImportHeader {
        kind: kind as i32,
        format: pb::FileFormat::Csv as i32,
        file_name: file_name.into(),
        upload_id: format!("demo-{}", file_name.trim_end_matches(".csv")),
        ..Default::default()
    };
    let parts = [
        pb::StartImportRequest { part: Some(Part::Header(header)) },
        pb::StartImportRequest { part: Some(Part::Chunk(FileChunk { data: file.into_bytes(), offset: 0 })) },
    ];
    let job = api.start_import(futures::stream::iter(parts)).await.context("the demo import")?.into_inner();
    let mut updates = api.watch_job(pb::GetJobRequest { job_id: job.id.clone() }).await?.into_inner();
    let mut last = job;
    while let Some(next) = updates.next().await {
        last = next?;
    }
    anyhow::ensure!(
        last.state() == pb::JobState::Succeeded,
        "the demo import of {file_name} ended {:?}: {}",
        last.state(),
        last.error
    );
    Ok(last)
}

/// Imports the web shop's customers, then their cards and points, waiting for each job; returns
/// the report line.
pub async fn load(channel: Channel, token: &str) -> anyhow::Result<String> {
    let mut api = ImportExportServiceClient::with_interceptor(channel, BearerToken::new(token)?);
    let clients = run(&mut api, pb::ImportKind::Clients, "e-parduotuves-klientai.csv", web_shop_file()).await?;
    let cards = run(&mut api, pb::ImportKind::Cards, "e-parduotuves-korteles.csv", web_shop_cards()).await?;
    let today = time::OffsetDateTime::now_utc().date();
    let points = run(&mut api, pb::ImportKind::Balances, "e-parduotuves-taskai.csv", web_shop_balances(today)).await?;
    Ok(format!(
        "importexport: the web shop's {} customers imported ({} new, {} duplicates, {} refused), {} of their cards \
         and {} points balances (loyalty import jobs)",
        clients.rows_total,
        clients.rows_imported,
        clients.duplicate_warnings,
        clients.rows_failed,
        cards.rows_imported,
        points.rows_imported
    ))
}
