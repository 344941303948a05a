//! Ledger rows as a streamed CSV download: one page is read from the use case
//! at a time and written out before the next is asked for, so an export of
//! the whole ledger never sits in memory.

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::header::{ContentDisposition, DispositionParam, DispositionType};
use actix_web::web::Bytes;
use askgate_domain::ledger::LedgerEntry;
use askgate_domain::page::{Cursor, Page, PageLimit, PageRequest};
use askgate_domain::services::AccountError;
use futures::stream;

use crate::dto::{CSV_HEADER, csv_record};
use crate::error::ApiError;

/// Reads one page of the export after the given position.
pub type PageReader = Arc<
    dyn Fn(
            PageRequest,
        ) -> futures::future::BoxFuture<'static, Result<Page<LedgerEntry>, AccountError>>
        + Send
        + Sync,
>;

/// What the download writes next.
enum Next {
    Ready(Page<LedgerEntry>),
    After(Cursor),
    Done,
}

/// The CSV answer: the first page is read before answering, so that a failure
/// then is a problem+json error; a later failure ends the download early
/// (logged), which a client sees as a cut-off transfer.
pub async fn csv_response(filename: &str, read: PageReader) -> Result<HttpResponse, ApiError> {
    let first = read(PageRequest {
        limit: PageLimit::EXPORT,
        after: None,
    })
    .await?;
    let header =
        stream::once(async { Ok::<_, ApiError>(Bytes::from_static(CSV_HEADER.as_bytes())) });
    let rows = stream::try_unfold(Next::Ready(first), move |next| {
        let read = Arc::clone(&read);
        async move {
            let page = match next {
                Next::Done => return Ok(None),
                Next::Ready(page) => page,
                Next::After(after) => read(PageRequest {
                    limit: PageLimit::EXPORT,
                    after: Some(after),
                })
                .await
                .inspect_err(|e| tracing::error!(error = %e, "a CSV export stopped early"))?,
            };
            let mut chunk = String::new();
            for entry in &page.items {
                chunk.push_str(&csv_record(entry));
            }
            let next = match page.next_cursor.as_deref() {
                Some(cursor) => Next::After(Cursor::parse(cursor)?),
                None => Next::Done,
            };
            Ok::<_, ApiError>(Some((Bytes::from(chunk), next)))
        }
    });
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(filename.to_owned())],
        })
        .streaming(stream::StreamExt::chain(header, rows)))
}
