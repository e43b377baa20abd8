//! Just enough of Server-Sent Events: `event:` and `data:` fields of each
//! blank-line-separated block; comments and other fields are ignored.

use futures::{Stream, StreamExt};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub event: String,
    pub data: String,
}

/// Splits a byte stream into events.
#[derive(Default)]
pub struct Parser {
    buf: String,
}

impl Parser {
    pub fn push(&mut self, chunk: &[u8]) -> Vec<Event> {
        self.buf.push_str(&String::from_utf8_lossy(chunk).replace("\r\n", "\n"));
        let mut out = Vec::new();
        while let Some(end) = self.buf.find("\n\n") {
            let block: String = self.buf.drain(..end + 2).collect();
            let mut event = String::from("message");
            let mut data: Vec<&str> = Vec::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v));
                }
            }
            if !data.is_empty() {
                out.push(Event {
                    event,
                    data: data.join("\n"),
                });
            }
        }
        out
    }
}

/// The events of a streaming response.
pub fn events(res: reqwest::Response) -> impl Stream<Item = Result<Event, reqwest::Error>> {
    let mut parser = Parser::default();
    res.bytes_stream().flat_map(move |chunk| {
        let items: Vec<Result<Event, reqwest::Error>> = match chunk {
            Ok(bytes) => parser.push(&bytes).into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        };
        futures::stream::iter(items)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_across_chunks_and_comments() {
        let mut p = Parser::default();
        assert!(p
            .push(b"retry: 3000\n: connected\n\nid: 1\nevent: status\nda")
            .is_empty());
        let got = p.push(b"ta: {\"a\":1}\n\n: keep-alive\n\r\nevent: x\r\ndata: 2\r\n\r\n");
        assert_eq!(
            got,
            [
                Event {
                    event: "status".into(),
                    data: "{\"a\":1}".into()
                },
                Event {
                    event: "x".into(),
                    data: "2".into()
                }
            ]
        );
    }
}
