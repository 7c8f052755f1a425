//! The XLSX writer alone, in a process of its own: `rows` rows of the export's eight columns (an
//! id, names, a date, a moment, consents) written by the import-export service's sheet to a
//! temporary file, and the process's peak resident memory (VmHWM) told. `export-1m` runs it at
//! 100,000 and 1,000,000 rows beside the export through the services, whose figure also holds
//! whatever the services in the same process did meanwhile.
use loyalty_import_export::domain::export::Cell;
use loyalty_import_export::sheets;

/// The argument that makes the bench binary this measurement.
pub const ARG: &str = "--xlsx-writer-rows";

/// Peak resident memory of this process, in MB.
fn peak_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb =
        status.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().split(' ').next()?.parse().ok());
    kb.unwrap_or(0.0) / 1024.0
}

/// Writes `rows` rows and prints the peak on stdout.
pub fn run(rows: u32) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("loyalty-bench-xlsx-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("clients.xlsx");
    let layout = sheets::Layout { bom: false, email_column: None, sheet_name: "Klientai" };
    let mut sheet = sheets::open("xlsx", &path, &dir, layout)?;
    let labels = ["ID", "Vardas", "Lytis", "Gimimo data", "Miestas", "Parduotuvė", "Registruotas", "El. paštas"];
    sheet.header(&labels.map(String::from))?;
    let (day, at) = (time::macros::date!(1985 - 05 - 04), time::macros::datetime!(2024-03-01 12:30 UTC));
    for row in 0..rows {
        let cells = [
            Cell::Text(format!("01a23{row:031x}")),
            Cell::Text(format!("Client {row}")),
            Cell::Text(if row % 2 == 0 { "female" } else { "male" }.into()),
            Cell::Date(day),
            Cell::Text(["Vilnius", "Kaunas", "Klaipėda"][row as usize % 3].into()),
            Cell::Text(format!("LT-{:02}", row % 40)),
            Cell::Time(at),
            Cell::Text("subscribed".into()),
        ];
        sheet.row(&cells)?;
    }
    sheet.finish()?;
    let _ = std::fs::remove_dir_all(&dir);
    println!("{:.1}", peak_mb());
    Ok(())
}

/// The peak of a child process writing `rows` rows, in MB.
pub fn peak_in_child(rows: u32) -> anyhow::Result<f64> {
    let out = std::process::Command::new(std::env::current_exe()?).args([ARG, &rows.to_string()]).output()?;
    anyhow::ensure!(out.status.success(), "the writer failed: {}", String::from_utf8_lossy(&out.stderr));
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}
