//! The demo chain's migration: the web shop's customer list, imported as seed 000's standard
//! layout (e-mail only, original registration dates and newsletter consents), with the two bad
//! rows and two repeated customers a real export has.
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

/// Imports the web shop's customers and waits for the job; returns the report line.
pub async fn load(channel: Channel, token: &str) -> anyhow::Result<String> {
    let mut api = ImportExportServiceClient::with_interceptor(channel, BearerToken::new(token)?);
    let header = pb::ImportHeader {
        kind: pb::ImportKind::Clients as i32,
        format: pb::FileFormat::Csv as i32,
        file_name: "e-parduotuves-klientai.csv".into(),
        upload_id: "demo-web-shop".into(),
        ..Default::default()
    };
    let file = web_shop_file().into_bytes();
    let parts = [
        pb::StartImportRequest { part: Some(Part::Header(header)) },
        pb::StartImportRequest { part: Some(Part::Chunk(FileChunk { data: file, offset: 0 })) },
    ];
    let job = api.start_import(futures::stream::iter(parts)).await.context("the demo import")?.into_inner();
    let mut updates = api.watch_job(pb::GetJobRequest { job_id: job.id.clone() }).await?.into_inner();
    let mut last = job;
    while let Some(next) = updates.next().await {
        last = next?;
    }
    anyhow::ensure!(
        last.state() == pb::JobState::Succeeded,
        "the demo import ended {:?}: {}",
        last.state(),
        last.error
    );
    Ok(format!(
        "importexport: the web shop's {} customers imported ({} new, {} duplicates, {} refused: loyalty import jobs)",
        last.rows_total, last.rows_imported, last.duplicate_warnings, last.rows_failed
    ))
}
