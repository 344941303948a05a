//! Server-Sent Events, read incrementally as the bytes arrive.
//!
//! An upstream that streams (`Content-Type: text/event-stream`) sends its answer
//! as events: `field: value` lines, one blank line ending each event. The bytes
//! come in chunks cut anywhere — inside a line, inside a UTF-8 character, between
//! the `\r` and `\n` of a line end — so [`Decoder`] keeps what it has not yet
//! seen the end of and hands out whole events only. It follows the HTML
//! standard's parsing rules: `\n`, `\r\n` and `\r` end lines; a line starting
//! with `:` is a comment (heartbeats); one space after the colon is dropped;
//! several `data:` lines join with `\n`; an event with no `data` is not
//! dispatched.

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Event {
    /// The `event:` field; `None` means the default type, `message`.
    pub(crate) name: Option<String>,
    pub(crate) data: String,
}

/// The longest event askgate accepts; an upstream that sends more without a
/// blank line is broken (or hostile), and the stream fails instead of growing
/// without bound.
pub(crate) const MAX_EVENT_BYTES: usize = 1 << 20;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum SseError {
    #[error("an event longer than {MAX_EVENT_BYTES} bytes")]
    TooLong,
    #[error("an event that is not UTF-8")]
    NotUtf8,
}

#[derive(Debug, Default)]
pub(crate) struct Decoder {
    /// Bytes of the line not yet ended.
    line: Vec<u8>,
    /// The previous chunk ended in `\r`: a `\n` starting the next one belongs to it.
    after_cr: bool,
    name: Option<String>,
    data: String,
    has_data: bool,
}

impl Decoder {
    /// Feeds the next chunk of the body; returns the events it completed.
    pub(crate) fn feed(&mut self, chunk: &[u8]) -> Result<Vec<Event>, SseError> {
        let mut events = Vec::new();
        let mut rest = chunk;
        if self.after_cr {
            self.after_cr = false;
            if let Some(stripped) = rest.strip_prefix(b"\n") {
                rest = stripped;
            }
        }
        while let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&rest[..end]);
            let crlf = rest[end] == b'\r';
            rest = &rest[end + 1..];
            if crlf {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            let line = std::mem::take(&mut self.line);
            if let Some(event) = self.line_ended(&line)? {
                events.push(event);
            }
        }
        self.line.extend_from_slice(rest);
        if self.line.len() + self.data.len() > MAX_EVENT_BYTES {
            return Err(SseError::TooLong);
        }
        Ok(events)
    }

    fn line_ended(&mut self, line: &[u8]) -> Result<Option<Event>, SseError> {
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        let line = std::str::from_utf8(line).map_err(|_| SseError::NotUtf8)?;
        if line.starts_with(':') {
            return Ok(None);
        }
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
                if self.data.len() > MAX_EVENT_BYTES {
                    return Err(SseError::TooLong);
                }
            }
            "event" => self.name = Some(value.to_owned()),
            // `id` and `retry` steer reconnection, which an answer never does.
            _ => {}
        }
        Ok(None)
    }

    fn dispatch(&mut self) -> Option<Event> {
        let name = self.name.take();
        if !std::mem::take(&mut self.has_data) {
            return None;
        }
        Some(Event {
            name,
            data: std::mem::take(&mut self.data),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(text: &str) -> Event {
        Event {
            name: None,
            data: text.to_owned(),
        }
    }

    fn decode_in_chunks(body: &[u8], size: usize) -> Vec<Event> {
        let mut decoder = Decoder::default();
        body.chunks(size)
            .flat_map(|chunk| decoder.feed(chunk).expect("a valid stream"))
            .collect()
    }

    #[test]
    fn events_end_at_a_blank_line_whatever_the_line_ends() {
        for body in [
            "data: a\n\ndata: b\n\n",
            "data: a\r\n\r\ndata: b\r\n\r\n",
            "data: a\r\rdata: b\r\r",
        ] {
            assert_eq!(
                decode_in_chunks(body.as_bytes(), 1024),
                [data("a"), data("b")],
                "{body:?}"
            );
        }
    }

    #[test]
    fn a_stream_cut_at_every_byte_gives_the_same_events() {
        let body = "event: delta\r\ndata: {\"text\":\"caf\u{e9} \u{1f600}\"}\r\n\r\n: ping\n\ndata: x\ndata:y\n\n";
        let whole = decode_in_chunks(body.as_bytes(), body.len());
        assert_eq!(
            whole,
            [
                Event {
                    name: Some("delta".to_owned()),
                    data: "{\"text\":\"caf\u{e9} \u{1f600}\"}".to_owned(),
                },
                data("x\ny"),
            ]
        );
        for size in 1..body.len() {
            assert_eq!(
                decode_in_chunks(body.as_bytes(), size),
                whole,
                "chunks of {size}"
            );
        }
    }

    #[test]
    fn comments_and_events_without_data_are_not_dispatched() {
        assert_eq!(
            decode_in_chunks(b": heartbeat\n\nevent: ping\n\nid: 7\nretry: 10\n\n", 4),
            []
        );
    }

    #[test]
    fn only_one_space_after_the_colon_is_dropped() {
        assert_eq!(
            decode_in_chunks(b"data:  two spaces\n\ndata\n\n", 64),
            [data(" two spaces"), data("")]
        );
    }

    #[test]
    fn an_event_without_its_blank_line_is_held_back() {
        let mut decoder = Decoder::default();
        assert_eq!(decoder.feed(b"data: [DONE]\n").unwrap(), []);
        assert_eq!(decoder.feed(b"\n").unwrap(), [data("[DONE]")]);
    }

    #[test]
    fn an_endless_line_fails_instead_of_growing() {
        let mut decoder = Decoder::default();
        let chunk = vec![b'a'; 64 * 1024];
        let result = (0..=MAX_EVENT_BYTES / chunk.len())
            .map(|_| decoder.feed(&chunk))
            .find(Result::is_err);
        assert_eq!(result, Some(Err(SseError::TooLong)));
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        let mut decoder = Decoder::default();
        assert_eq!(decoder.feed(b"data: \xff\n\n"), Err(SseError::NotUtf8));
    }
}
