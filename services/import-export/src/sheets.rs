//! The files an export writes, row by row in constant memory: CSV (with a byte-order mark for
//! Excel when asked), XLSX (typed cells, a frozen header, an autofilter) and plain e-mail lists;
//! and PDF tables for print (their rows kept until the page count is known).
use crate::domain::export::{Cell, safe_text};
use anyhow::Context;
use std::io::Write;
use std::path::{Path, PathBuf};

pub trait Sheet: Send {
    fn header(&mut self, labels: &[String]) -> anyhow::Result<()>;
    /// A line above the table, where the format has room for one (PDF).
    fn title(&mut self, _title: &str) {}
    fn row(&mut self, cells: &[Cell]) -> anyhow::Result<()>;
    /// Writes what is left and closes the file.
    fn finish(self: Box<Self>) -> anyhow::Result<()>;
}

/// How a file is laid out beyond its rows.
pub struct Layout<'a> {
    /// CSV: a byte-order mark first, for Excel.
    pub bom: bool,
    /// E-mail lists: the column holding the address.
    pub email_column: Option<usize>,
    /// XLSX: the worksheet's name.
    pub sheet_name: &'a str,
}

/// A sheet of `format` ("csv", "xlsx", "emails", "pdf") written to `path`; temporary files go
/// to `temp`.
pub fn open(format: &str, path: &Path, temp: &Path, layout: Layout<'_>) -> anyhow::Result<Box<dyn Sheet>> {
    let Layout { bom, email_column, sheet_name } = layout;
    Ok(match format {
        "pdf" => Box::new(Pdf { path: path.to_path_buf(), title: String::new(), labels: vec![], rows: vec![] }),
        "xlsx" => Box::new(Xlsx::new(path, temp, sheet_name)?),
        "emails" => Box::new(Emails {
            out: create(path)?,
            column: email_column.context("an e-mail list needs the email column")?,
        }),
        _ => {
            let mut out = create(path)?;
            if bom {
                out.write_all(&[0xEF, 0xBB, 0xBF])?;
            }
            Box::new(Csv { out: csv::Writer::from_writer(out) })
        }
    })
}

fn create(path: &Path) -> anyhow::Result<std::io::BufWriter<std::fs::File>> {
    let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(std::io::BufWriter::with_capacity(1 << 20, file))
}

struct Csv {
    out: csv::Writer<std::io::BufWriter<std::fs::File>>,
}

impl Sheet for Csv {
    fn header(&mut self, labels: &[String]) -> anyhow::Result<()> {
        self.out.write_record(labels.iter().map(|l| safe_text(l).into_owned()))?;
        Ok(())
    }

    fn row(&mut self, cells: &[Cell]) -> anyhow::Result<()> {
        let texts = cells.iter().map(|c| match c {
            Cell::Empty => String::new(),
            Cell::Text(t) => safe_text(t).into_owned(),
            Cell::Number(n) => n.to_string(),
            Cell::Date(d) => d.to_string(),
            Cell::Time(t) => Cell::time_text(*t),
        });
        self.out.write_record(texts)?;
        Ok(())
    }

    fn finish(self: Box<Self>) -> anyhow::Result<()> {
        let mut out = self.out.into_inner().map_err(|e| anyhow::anyhow!("writing the CSV: {e}"))?;
        out.flush()?;
        Ok(())
    }
}

/// One address a line, each once; rows without an address are left out.
struct Emails {
    out: std::io::BufWriter<std::fs::File>,
    column: usize,
}

impl Sheet for Emails {
    fn header(&mut self, _labels: &[String]) -> anyhow::Result<()> {
        Ok(())
    }

    fn row(&mut self, cells: &[Cell]) -> anyhow::Result<()> {
        if let Some(Cell::Text(address)) = cells.get(self.column)
            && !address.contains(['\n', '\r'])
        {
            writeln!(self.out, "{address}")?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<()> {
        self.out.flush()?;
        Ok(())
    }
}

struct Xlsx {
    workbook: rust_xlsxwriter::Workbook,
    path: PathBuf,
    row: u32,
    columns: u16,
    date: rust_xlsxwriter::Format,
    time: rust_xlsxwriter::Format,
    number: rust_xlsxwriter::Format,
    bold: rust_xlsxwriter::Format,
}

impl Xlsx {
    fn new(path: &Path, temp: &Path, name: &str) -> anyhow::Result<Self> {
        let mut workbook = rust_xlsxwriter::Workbook::new();
        workbook.set_tempdir(temp)?;
        let sheet = workbook.add_worksheet_with_constant_memory()?;
        sheet.set_name(name)?;
        // Before any row: in constant memory the pane is written ahead of the rows.
        sheet.set_freeze_panes(1, 0)?;
        Ok(Self {
            workbook,
            path: path.to_path_buf(),
            row: 0,
            columns: 0,
            date: rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd"),
            time: rust_xlsxwriter::Format::new().set_num_format("yyyy-mm-dd hh:mm:ss"),
            number: rust_xlsxwriter::Format::new().set_num_format("#,##0.##"),
            bold: rust_xlsxwriter::Format::new().set_bold(),
        })
    }
}

impl Sheet for Xlsx {
    fn header(&mut self, labels: &[String]) -> anyhow::Result<()> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        for (c, label) in labels.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, label, &self.bold)?;
            sheet.set_column_width(c as u16, (label.chars().count() as f64 + 4.0).max(12.0))?;
        }
        self.columns = labels.len() as u16;
        self.row = 1;
        Ok(())
    }

    fn row(&mut self, cells: &[Cell]) -> anyhow::Result<()> {
        let sheet = self.workbook.worksheet_from_index(0)?;
        for (c, cell) in cells.iter().enumerate() {
            let c = c as u16;
            match cell {
                Cell::Empty => {}
                // A string cell is never a formula, whatever it starts with.
                Cell::Text(t) => {
                    sheet.write_string(self.row, c, t)?;
                }
                Cell::Number(n) => {
                    sheet.write_number_with_format(self.row, c, *n, &self.number)?;
                }
                Cell::Date(d) => {
                    let day = rust_xlsxwriter::ExcelDateTime::from_ymd(d.year() as u16, u8::from(d.month()), d.day())?;
                    sheet.write_datetime_with_format(self.row, c, &day, &self.date)?;
                }
                Cell::Time(t) => {
                    let t = t.to_offset(time::UtcOffset::UTC);
                    let (date, clock) = (t.date(), t.time());
                    let at = rust_xlsxwriter::ExcelDateTime::from_ymd(
                        date.year() as u16,
                        u8::from(date.month()),
                        date.day(),
                    )?
                    .and_hms(u16::from(clock.hour()), clock.minute(), clock.second())?;
                    sheet.write_datetime_with_format(self.row, c, &at, &self.time)?;
                }
            }
        }
        self.row += 1;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<()> {
        let last = self.row.saturating_sub(1);
        let sheet = self.workbook.worksheet_from_index(0)?;
        if self.columns > 0 {
            sheet.autofilter(0, 0, last.max(1), self.columns - 1)?;
        }
        self.workbook.save(&self.path).context("saving the workbook")?;
        Ok(())
    }
}

/// A printable table: the rows are kept (a PDF is for print, so its exports are capped) and laid
/// out when the page count is known.
struct Pdf {
    path: PathBuf,
    title: String,
    labels: Vec<String>,
    rows: Vec<Vec<Cell>>,
}

impl Sheet for Pdf {
    fn header(&mut self, labels: &[String]) -> anyhow::Result<()> {
        self.labels = labels.to_vec();
        Ok(())
    }

    fn title(&mut self, title: &str) {
        self.title = title.to_string();
    }

    fn row(&mut self, cells: &[Cell]) -> anyhow::Result<()> {
        self.rows.push(cells.to_vec());
        Ok(())
    }

    fn finish(self: Box<Self>) -> anyhow::Result<()> {
        let bytes = crate::pdf::render(&self.title, &self.labels, &self.rows)?;
        std::fs::write(&self.path, bytes).with_context(|| format!("writing {}", self.path.display()))?;
        Ok(())
    }
}
