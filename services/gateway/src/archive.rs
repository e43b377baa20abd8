//! A ZIP archive of a version's files, built in memory: the few files of one
//! version, each at most the worker's file-size limit, the whole bounded by
//! [`MAX_BYTES`] before anything is fetched. Plain ZIP (no ZIP64: the bound
//! keeps every size and offset far below 4 GiB); each file is deflated when
//! that makes it smaller, stored as it is otherwise (FCStd, 3MF and PNG are
//! compressed already).

use std::io::Write;

use chrono::{DateTime, Datelike, Timelike, Utc};
use flate2::write::DeflateEncoder;
use flate2::Compression;

/// The most bytes (before compression) one archive holds.
pub const MAX_BYTES: u64 = 256 * 1024 * 1024;

const STORED: u16 = 0;
const DEFLATED: u16 = 8;
/// ZIP 2.0: deflate.
const VERSION: u16 = 20;

/// One file of the archive: a plain name (no directories) and its bytes.
pub struct Entry {
    pub name: String,
    pub bytes: Vec<u8>,
}

struct Written {
    name: String,
    method: u16,
    crc: u32,
    compressed: u32,
    size: u32,
    offset: u32,
}

/// The archive of `entries`, every file dated `modified`.
pub fn zip(entries: &[Entry], modified: DateTime<Utc>) -> std::io::Result<Vec<u8>> {
    let total: u64 = entries.iter().map(|e| e.bytes.len() as u64).sum();
    if total > MAX_BYTES || entries.len() > usize::from(u16::MAX) {
        return Err(std::io::Error::other("the archive would be too large"));
    }
    let (time, date) = dos_time(modified);
    let mut out = Vec::new();
    let mut written = Vec::with_capacity(entries.len());
    for entry in entries {
        let crc = crc32fast::hash(&entry.bytes);
        let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&entry.bytes)?;
        let deflated = encoder.finish()?;
        let (method, data) = if deflated.len() < entry.bytes.len() {
            (DEFLATED, deflated.as_slice())
        } else {
            (STORED, entry.bytes.as_slice())
        };
        let w = Written {
            name: entry.name.clone(),
            method,
            crc,
            compressed: data.len() as u32,
            size: entry.bytes.len() as u32,
            offset: out.len() as u32,
        };
        out.extend(0x0403_4b50u32.to_le_bytes());
        common_header(&mut out, &w, time, date);
        out.extend(0u16.to_le_bytes()); // extra field length
        out.extend(w.name.as_bytes());
        out.extend(data);
        written.push(w);
    }
    let directory = out.len() as u32;
    for w in &written {
        out.extend(0x0201_4b50u32.to_le_bytes());
        out.extend((3u16 << 8 | VERSION).to_le_bytes()); // made by: Unix, ZIP 2.0
        common_header(&mut out, w, time, date);
        out.extend(0u16.to_le_bytes()); // extra field length
        out.extend(0u16.to_le_bytes()); // comment length
        out.extend(0u16.to_le_bytes()); // disk number
        out.extend(0u16.to_le_bytes()); // internal attributes
        out.extend((0o100644u32 << 16).to_le_bytes()); // a plain file, rw-r--r--
        out.extend(w.offset.to_le_bytes());
        out.extend(w.name.as_bytes());
    }
    let directory_size = out.len() as u32 - directory;
    out.extend(0x0605_4b50u32.to_le_bytes());
    out.extend(0u16.to_le_bytes()); // this disk
    out.extend(0u16.to_le_bytes()); // the directory's disk
    out.extend((written.len() as u16).to_le_bytes());
    out.extend((written.len() as u16).to_le_bytes());
    out.extend(directory_size.to_le_bytes());
    out.extend(directory.to_le_bytes());
    out.extend(0u16.to_le_bytes()); // comment length
    Ok(out)
}

/// From "version needed" to the name's length: the same in a local header
/// and in the central directory.
fn common_header(out: &mut Vec<u8>, w: &Written, time: u16, date: u16) {
    out.extend(VERSION.to_le_bytes());
    out.extend(0u16.to_le_bytes()); // flags
    out.extend(w.method.to_le_bytes());
    out.extend(time.to_le_bytes());
    out.extend(date.to_le_bytes());
    out.extend(w.crc.to_le_bytes());
    out.extend(w.compressed.to_le_bytes());
    out.extend(w.size.to_le_bytes());
    out.extend((w.name.len() as u16).to_le_bytes());
}

/// MS-DOS time and date, two-second resolution, from 1980.
fn dos_time(t: DateTime<Utc>) -> (u16, u16) {
    let time = (t.hour() << 11 | t.minute() << 5 | (t.second() / 2)) as u16;
    let year = t.year().clamp(1980, 2107) as u32 - 1980;
    let date = (year << 9 | t.month() << 5 | t.day()) as u16;
    (time, date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u16_at(b: &[u8], o: usize) -> usize {
        u16::from_le_bytes([b[o], b[o + 1]]) as usize
    }

    fn u32_at(b: &[u8], o: usize) -> usize {
        u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) as usize
    }

    /// Reads an archive back through its central directory.
    fn read(zip: &[u8]) -> Vec<(String, Vec<u8>)> {
        let end = zip.len() - 22;
        assert_eq!(u32_at(zip, end), 0x0605_4b50);
        let (count, mut at) = (u16_at(zip, end + 10), u32_at(zip, end + 16));
        (0..count)
            .map(|_| {
                assert_eq!(u32_at(zip, at), 0x0201_4b50);
                let (method, crc) = (u16_at(zip, at + 10), u32_at(zip, at + 16) as u32);
                let (compressed, size) = (u32_at(zip, at + 20), u32_at(zip, at + 24));
                let name_len = u16_at(zip, at + 28);
                let name = String::from_utf8(zip[at + 46..at + 46 + name_len].to_vec()).unwrap();
                let local = u32_at(zip, at + 42);
                let data_at = local + 30 + u16_at(zip, local + 26) + u16_at(zip, local + 28);
                let data = &zip[data_at..data_at + compressed];
                let bytes = match method as u16 {
                    STORED => data.to_vec(),
                    DEFLATED => {
                        let mut out = Vec::new();
                        std::io::Read::read_to_end(&mut flate2::read::DeflateDecoder::new(data), &mut out).unwrap();
                        out
                    }
                    other => panic!("method {other}"),
                };
                assert_eq!(bytes.len(), size);
                assert_eq!(crc32fast::hash(&bytes), crc);
                at += 46 + name_len;
                (name, bytes)
            })
            .collect()
    }

    #[test]
    fn files_come_back_whole_deflated_or_stored() {
        let text = "solid x\n".repeat(1000).into_bytes();
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let entries = vec![
            Entry {
                name: "plate_v1.STL".into(),
                bytes: text.clone(),
            },
            Entry {
                name: "plate_v1.PNG".into(),
                bytes: noise.clone(),
            },
            Entry {
                name: "empty".into(),
                bytes: vec![],
            },
        ];
        let zip = zip(&entries, Utc::now()).unwrap();
        assert!(zip.len() < text.len(), "the text was deflated");
        assert_eq!(
            read(&zip),
            vec![
                ("plate_v1.STL".into(), text),
                ("plate_v1.PNG".into(), noise),
                ("empty".into(), vec![])
            ]
        );
    }

    #[test]
    fn dates_are_dos_dates() {
        let t = DateTime::parse_from_rfc3339("2024-05-17T13:45:31Z").unwrap().to_utc();
        assert_eq!(dos_time(t), (13 << 11 | 45 << 5 | 15, (44 << 9 | 5 << 5 | 17)));
    }
}
