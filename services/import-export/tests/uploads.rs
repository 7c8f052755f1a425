//! An upload survives a lost connection: the chunks received are kept, GetUpload tells how many
//! bytes, and the same header with the rest of the file finishes it. A gap is refused.
mod support;

use loyalty_api::importexport::v1 as pb;
use support::*;
use tokio_stream::wrappers::ReceiverStream;

fn big_file(rows: usize) -> Vec<u8> {
    let mut file = "Vardas,Pavardė,El. paštas\n".to_string();
    for i in 0..rows {
        file.push_str(&format!("Vardenis{i},Pavardenis,v{i}@example.lt\n"));
    }
    file.into_bytes()
}

#[tokio::test]
async fn a_broken_upload_resumes_from_what_the_service_holds() {
    let app = start().await;
    let mut api = admin(&app);
    let file = big_file(200);
    let all = messages(header("resumed"), &file, 500, 0);
    // The connection drops after the header and four chunks.
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let mut sender = api.clone();
    let call = tokio::spawn(async move { sender.start_import(ReceiverStream::new(rx)).await });
    for m in all.iter().take(5).cloned() {
        tx.send(m).await.expect("sent");
    }
    let upload_id = "resumed".to_string();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let held = loop {
        let up = api.get_upload(pb::GetUploadRequest { upload_id: upload_id.clone() }).await.map(|r| r.into_inner());
        if let Ok(up) = up
            && up.received_bytes == 2000
        {
            break up;
        }
        assert!(std::time::Instant::now() < deadline, "the four chunks were not stored");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    call.abort();
    drop(tx);
    assert_eq!(held.job_id, "", "no job before the stream ends");

    // A gap is refused; resuming from the size held (with an overlap, as a client might) works.
    let gap = futures::stream::iter(messages(header("resumed"), &file, 500, 2500));
    assert_eq!(fields(&api.start_import(gap).await.expect_err("gap")), ["chunk.offset"]);
    let rest = futures::stream::iter(messages(header("resumed"), &file, 500, 1500));
    let job = api.start_import(rest).await.expect("resumed").into_inner();
    assert_eq!(job.file_size, file.len() as i64);
    let job = finished(&mut api, &job.id).await;
    assert_eq!((job.rows_total, job.rows_imported), (200, 200), "{job:?}");
    let up = api.get_upload(pb::GetUploadRequest { upload_id }).await.expect("upload").into_inner();
    assert_eq!((up.received_bytes, up.job_id), (file.len() as i64, job.id));
}

#[tokio::test]
async fn a_cancelled_job_stops_and_keeps_what_it_committed() {
    let app = start().await;
    let mut api = admin(&app);
    let job = upload(&mut api, header("cancel"), &big_file(3000)).await.expect("upload");
    // Cancel once it has begun.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = api.get_job(pb::GetJobRequest { job_id: job.id.clone() }).await.expect("job").into_inner();
        if now.rows_done > 0 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the job did not start");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let cancelled = api.cancel_job(pb::CancelJobRequest { job_id: job.id.clone() }).await.expect("cancel").into_inner();
    assert_eq!(cancelled.state(), pb::JobState::Cancelled);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let after = api.get_job(pb::GetJobRequest { job_id: job.id.clone() }).await.expect("job").into_inner();
    assert_eq!(after.state(), pb::JobState::Cancelled);
    assert!(after.rows_done < 3000, "it stopped early: {after:?}");
    let created = people(&mut client_api(&app)).await.len() as i64;
    assert_eq!(created, after.rows_imported, "the committed rows stay, and the figures say how many");
    let again = api.cancel_job(pb::CancelJobRequest { job_id: job.id }).await.expect_err("ended");
    assert_eq!(again.code(), tonic::Code::FailedPrecondition);
}
