use httpmock::prelude::*;
use tallyfy_files::{Client, IfExists};

#[test]
fn smoke_downloads_pdf() {
    let pdf = std::fs::read("tests/fixtures/shared-mime-info-spec.pdf").unwrap();
    let server = MockServer::start();
    let mock = server.mock(|when, then| {
        when.method(GET)
            .path("/api/organizations/org1/file/f1/dl")
            .header("authorization", "Bearer tok")
            .header("x-tallyfy-client", "APIClient");
        then.status(200)
            .header("content-type", "application/octet-stream")
            .header("content-disposition", "attachment; filename=\"spec.pdf\"")
            .body(&pdf);
    });
    let client = Client::builder().token("tok").org_id("org1").base_url(server.url("/api")).build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.pdf");
    let info = client.download("f1").to_path(&out, IfExists::Fail).unwrap();
    mock.assert();
    assert_eq!(std::fs::read(&out).unwrap(), pdf);
    assert_eq!(info.server_file_name.as_deref(), Some("spec.pdf"));
    let mut buf = vec![0u8; 10];
    let err = client.download("f1").to_slice(&mut buf).unwrap_err();
    println!("{err}");
    let (v, _) = client.download("f1").to_vec(1 << 20).unwrap();
    assert_eq!(v, pdf);
}
