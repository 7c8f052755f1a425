//! A stored upload read as CSV rows on a blocking thread, in constant memory: the chunks come
//! from the database through a small channel, are decoded to UTF-8 and split into records.
use encoding_rs::Encoding;
use std::io::Read;
use tokio::sync::mpsc;

/// What the reader found next in the file.
#[derive(Debug)]
pub enum Item {
    /// The first row.
    Header(Vec<String>),
    /// A data row: its 1-based row number in the file (the header is row 1) and its cells.
    Row { number: i64, cells: Vec<String> },
    /// A row refused as it was read (too long).
    Refused { number: i64, cells: Vec<String>, reason: String },
    /// The end of the file after `rows` data rows.
    End { rows: i64 },
    /// The file cannot be read on (why, in words).
    Failed(String),
}

impl Item {
    /// A row's cells (none for the other items).
    pub fn cells(&self) -> &[String] {
        match self {
            Item::Row { cells, .. } | Item::Refused { cells, .. } => cells,
            _ => &[],
        }
    }
}

/// How to read the file.
#[derive(Clone, Copy)]
pub struct Spec {
    pub encoding: &'static Encoding,
    pub delimiter: u8,
    pub max_row_chars: usize,
}

/// Reads the bytes arriving on `chunks` as CSV; rows arrive on the answer in file order.
pub fn read(chunks: mpsc::Receiver<Vec<u8>>, spec: Spec) -> mpsc::Receiver<Item> {
    let (tx, rx) = mpsc::channel(1024);
    tokio::task::spawn_blocking(move || parse(ChannelRead { chunks, buf: Vec::new(), pos: 0 }, spec, &tx));
    rx
}

fn parse(input: ChannelRead, spec: Spec, out: &mpsc::Sender<Item>) {
    let decoded =
        encoding_rs_io::DecodeReaderBytesBuilder::new().encoding(Some(spec.encoding)).strip_bom(true).build(input);
    let mut csv =
        csv::ReaderBuilder::new().delimiter(spec.delimiter).has_headers(false).flexible(true).from_reader(decoded);
    let mut record = csv::StringRecord::new();
    let mut number = 0i64;
    loop {
        let item = match csv.read_record(&mut record) {
            Ok(false) => {
                let _ = out.blocking_send(Item::End { rows: (number - 1).max(0) });
                return;
            }
            Ok(true) => {
                number += 1;
                let cells: Vec<String> = record.iter().map(str::to_string).collect();
                let chars: usize = cells.iter().map(|c| c.chars().count()).sum();
                if number == 1 {
                    Item::Header(cells)
                } else if chars > spec.max_row_chars {
                    let reason = format!("the row is longer than {} characters", spec.max_row_chars);
                    Item::Refused { number, cells: vec![], reason }
                } else {
                    Item::Row { number, cells }
                }
            }
            Err(e) => Item::Failed(format!("the file cannot be read as CSV after row {number}: {e}")),
        };
        let failed = matches!(item, Item::Failed(_));
        if out.blocking_send(item).is_err() || failed {
            return;
        }
    }
}

/// The chunks of a channel as one byte stream.
struct ChannelRead {
    chunks: mpsc::Receiver<Vec<u8>>,
    buf: Vec<u8>,
    pos: usize,
}

impl Read for ChannelRead {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.buf.len() {
            match self.chunks.blocking_recv() {
                Some(next) => {
                    self.buf = next;
                    self.pos = 0;
                }
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
