//! An XLSX upload read as rows: the archive's directory checked first (a zip bomb or a file that
//! is not a workbook is refused before anything is decompressed), then the chosen sheet streamed
//! cell by cell (calamine's cell reader: memory stays flat in the row count) into the same rows a
//! CSV gives. Dates become YYYY-MM-DD, whole numbers lose their ".0" (a phone typed as a number).
use crate::reader::Item;
use calamine::{DataRef, Reader, Xlsx};
use std::io::{Read, Seek};
use tokio::sync::mpsc;

/// The most entries, the largest expansion and the most bytes an archive may declare.
const MAX_ENTRIES: usize = 10_000;
const MAX_RATIO: u64 = 200;
const MAX_EXPANDED: u64 = 4 << 30;

/// Why the archive is not a workbook this service opens, if it is not.
pub fn refuse<R: Read + Seek>(file: R) -> Option<String> {
    let mut archive = match zip::ZipArchive::new(file) {
        Ok(a) => a,
        Err(_) => return Some("the file is not an XLSX workbook (not a zip archive): upload it as CSV".into()),
    };
    if archive.len() > MAX_ENTRIES {
        return Some(format!("the workbook holds {} parts; a real one holds far fewer", archive.len()));
    }
    let (mut expanded, mut workbook) = (0u64, false);
    for i in 0..archive.len() {
        let Ok(entry) = archive.by_index_raw(i) else { return Some("the workbook's archive is damaged".into()) };
        let name = entry.name().map(|n| n.to_string()).unwrap_or_default();
        workbook |= name == "xl/workbook.xml";
        let (packed, size) = (entry.compressed_size().max(1), entry.size());
        if size / packed > MAX_RATIO {
            return Some(format!("{name} expands {}-fold: the file looks like a zip bomb", size / packed));
        }
        expanded = expanded.saturating_add(size);
    }
    if expanded > MAX_EXPANDED {
        return Some(format!("the workbook expands to {expanded} bytes, more than the {MAX_EXPANDED} an import reads"));
    }
    (!workbook).then(|| "the archive has no xl/workbook.xml: it is not an XLSX workbook".to_string())
}

/// A cell as the text a CSV would hold.
fn text(value: &DataRef<'_>) -> String {
    match value {
        DataRef::Empty => String::new(),
        DataRef::String(s) => s.clone(),
        DataRef::SharedString(s) => s.to_string(),
        DataRef::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
        DataRef::Float(f) => f.to_string(),
        DataRef::Int(i) => i.to_string(),
        DataRef::Bool(b) => b.to_string(),
        DataRef::DateTime(d) => excel_date(d.as_f64()),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => s.clone(),
        DataRef::Error(e) => format!("#{e:?}"),
    }
}

/// An Excel serial day (1900 system) as YYYY-MM-DD, with the time of day when it has one.
fn excel_date(serial: f64) -> String {
    let epoch = time::macros::date!(1899 - 12 - 30);
    let days = serial.floor() as i64;
    let Some(day) = epoch.checked_add(time::Duration::days(days)) else { return serial.to_string() };
    let seconds = ((serial - serial.floor()) * 86_400.0).round() as i64;
    if seconds == 0 {
        day.to_string()
    } else {
        format!("{day} {:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
    }
}

/// Streams `sheet` (the first when empty) of the workbook in `file` as rows on the answer.
pub fn read(file: std::fs::File, sheet: String, max_row_chars: usize) -> mpsc::Receiver<Item> {
    let (tx, rx) = mpsc::channel(1024);
    tokio::task::spawn_blocking(move || {
        if let Err(why) = stream(file, &sheet, max_row_chars, &tx) {
            let _ = tx.blocking_send(Item::Failed(why));
        }
    });
    rx
}

fn stream(file: std::fs::File, sheet: &str, max_row_chars: usize, out: &mpsc::Sender<Item>) -> Result<(), String> {
    let mut workbook: Xlsx<_> =
        Xlsx::new(std::io::BufReader::new(file)).map_err(|e| format!("the workbook cannot be opened: {e}"))?;
    let names = workbook.sheet_names();
    let name = if sheet.is_empty() {
        names.first().cloned().ok_or("the workbook has no sheet")?
    } else if names.iter().any(|n| n == sheet) {
        sheet.to_string()
    } else {
        return Err(format!("the workbook has no sheet {sheet:?} (it has {})", names.join(", ")));
    };
    let mut cells =
        workbook.worksheet_cells_reader(&name).map_err(|e| format!("sheet {name:?} cannot be read: {e}"))?;
    let (mut current, mut row, mut rows): (Option<u32>, Vec<String>, i64) = (None, Vec::new(), 0);
    let emit = |number: u32, cells: Vec<String>, first: bool| -> bool {
        let chars: usize = cells.iter().map(|c| c.chars().count()).sum();
        let item = if first {
            Item::Header(cells)
        } else if chars > max_row_chars {
            Item::Refused {
                number: i64::from(number) + 1,
                cells: vec![],
                reason: format!("the row is longer than {max_row_chars} characters"),
            }
        } else {
            Item::Row { number: i64::from(number) + 1, cells }
        };
        out.blocking_send(item).is_ok()
    };
    let mut header_done = false;
    loop {
        let next = cells.next_cell().map_err(|e| format!("sheet {name:?} cannot be read on: {e}"))?;
        let Some(cell) = next else { break };
        let (r, c) = cell.get_position();
        if current != Some(r) {
            if let Some(previous) = current
                && row.iter().any(|c| !c.is_empty())
            {
                if !emit(previous, std::mem::take(&mut row), !header_done) {
                    return Ok(());
                }
                rows += i64::from(header_done);
                header_done = true;
            }
            row.clear();
            current = Some(r);
        }
        let c = c as usize;
        if c > 1_000 {
            return Err(format!("row {} has a cell in column {}: more columns than a client list has", r + 1, c + 1));
        }
        if row.len() <= c {
            row.resize(c + 1, String::new());
        }
        row[c] = text(cell.get_value());
    }
    if let Some(previous) = current
        && row.iter().any(|c| !c.is_empty())
    {
        if !emit(previous, row, !header_done) {
            return Ok(());
        }
        rows += i64::from(header_done);
    }
    let _ = out.blocking_send(Item::End { rows });
    Ok(())
}
