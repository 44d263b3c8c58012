//! Direct against through panelgate, for AAP and AAGI quotes and accepts: latencies one at a
//! time and throughput at saturation, the relay and each store side by side; and memory per
//! loaded panel and per request in flight.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use panelgate_adapter_sdk as sdk;
use panelgate_tests::guests;
use serde_json::Value;

use crate::common::*;
use crate::partners::*;
use crate::relay::relay;

/// RSS per additional loaded panel, beside what the first host's two panels took (`loaded`).
pub(crate) async fn memory_per_panel(
    app: &panelgate::App,
    config: &panelgate::config::Config,
    aap_url: &str,
    loaded: u64,
) -> Result<()> {
    let component = app
        .runtime()
        .compile_file(std::path::Path::new(guests::AAP_H2H))?;
    let context = || -> Result<_> {
        let mut panel = config.panels["A03"].clone();
        panel.settings.insert("base-url".into(), aap_url.to_string());
        Ok(panel)
    };
    let before = rss_kib();
    let mut extra = Vec::new();
    for i in 0..20 {
        let panel = context()?;
        let ctx = panelgate::runtime::PanelContext {
            id: format!("extra-{i}"),
            adapter: "aap-h2h".into(),
            settings: panel.settings.clone(),
            credentials: Default::default(),
            allowed_hosts: vec![],
            client: reqwest::Client::new(),
            memory_bytes: 64 << 20,
            operation_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(25),
            max_response_bytes: 10 << 20,
            max_log_bytes: 65536,
            redactions: vec![],
            breaker: Arc::new(panelgate::capabilities::breaker::Breaker::new(0, Duration::ZERO)),
            known_good: Default::default(),
        };
        extra.push(
            panelgate::runtime::WasmAdapter::load(app.runtime(), &component, Arc::new(ctx), 64)
                .await
                .map_err(anyhow::Error::from)?,
        );
    }
    let per_panel = (rss_kib().saturating_sub(before)) as f64 / 20.0;
    println!(
        "memory: {:.0} KiB per additional loaded panel (RSS over 20 panels); host with 2 panels {} KiB over the bare process",
        per_panel, loaded
    );
    drop(extra);
    Ok(())
}

/// The table's rows: each scenario on every path.
pub(crate) async fn rows(hosts: &[String], aap_url: String, aagi_url: String) -> Result<()> {
    let client = reqwest::Client::new();
    let mut rows = Vec::new();

    // AAP quote.
    let host_call = |host: &String, path: &str, body: Value, loan_pointer: Option<&'static str>| {
        portal_call(&client, format!("{host}{path}"), body, loan_pointer)
    };
    let body = examples("A03", "quote")?;
    let direct = direct_aap_quote(&client, &aap_url);
    let relay_url = relay(direct.clone(), "127.0.0.1:0").await?;
    let mut paths = vec![direct, host_call(&relay_url, "", body.clone(), None)];
    paths.extend(
        hosts
            .iter()
            .map(|h| host_call(h, "/v1/panels/A03/quotes", body.clone(), None)),
    );
    rows.push(measure("AAP quote", paths).await?);

    // AAP accept (automatic cover): a new loan each time, as the panel refuses duplicates.
    let direct_aap_accept = {
        let (client, url) = (client.clone(), aap_url.clone());
        move |i: u64| {
            let (client, url) = (client.clone(), url.clone());
            async move {
                let application = sdk::Application {
                    case_id: "bench".into(),
                    mode: sdk::AcceptanceMode::Issue,
                    product: Some("01".into()),
                    plan: None,
                    quote_reference: None,
                    start_date: None,
                    end_date: None,
                    proposal_date: None,
                    frequency: None,
                    sum_insured: None,
                    premium: Some(sdk::Money {
                        amount: "150000".into(),
                        currency: "IDR".into(),
                    }),
                    payment: None,
                    parties: vec![aap_person()],
                    interest: sdk::InsuredInterest::CreditLife(aap_loan(&format!("BENCH-D-{i}"))),
                    coverages: vec![],
                    consents: vec![],
                    digital_policy: None,
                    channel: None,
                    extensions: None,
                    option_ids: Vec::new(),
                    start_time: None,
                    questionnaire: Vec::new(),
                    renewal_of: None,
                };
                let wire = aap_h2h::mapping::acceptance_request(&application)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let body = aap_post(&client, &url, "akseptasi/registrasi", &wire).await?;
                let parsed: aap_h2h::partner::PolicyResponse = serde_json::from_slice(body.as_ref())?;
                aap_h2h::mapping::issued(&wire, parsed).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                anyhow::Ok(())
            }
        }
    };
    let body = examples("A03", "accept-cac")?;
    let direct = path(direct_aap_accept.clone());
    let relay_url = relay(direct.clone(), "127.0.0.1:0").await?;
    let mut paths = vec![direct, host_call(&relay_url, "", body.clone(), None)];
    paths.extend(hosts.iter().map(|h| {
        host_call(
            h,
            "/v1/panels/A03/policies",
            body.clone(),
            Some("/interest/credit_life/account"),
        )
    }));
    rows.push(measure("AAP accept", paths).await?);

    // AAGI quote and accept: the canonical examples, mapped natively for the direct path.
    let aagi_quote = aagi_quote_sdk();
    let direct_aagi_quote = {
        let (client, url, request) = (client.clone(), aagi_url.clone(), aagi_quote.clone());
        move |_: u64| {
            let (client, url, request) = (client.clone(), url.clone(), request.clone());
            async move {
                let wire =
                    aagi_motor::mapping::quick_quote(&request).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let response = client
                    .post(format!("{url}/v1/motor/quickquotes"))
                    .bearer_auth("bench-token")
                    .json(&wire)
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "AAGI answered {}",
                    response.status()
                );
                let parsed: aagi_motor::partner::QuickQuote =
                    serde_json::from_slice(&response.bytes().await?)?;
                aagi_motor::mapping::quotation(parsed).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                anyhow::Ok(())
            }
        }
    };
    let body = examples("aagi-motor", "quote")?;
    let direct = path(direct_aagi_quote);
    let relay_url = relay(direct.clone(), "127.0.0.1:0").await?;
    let mut paths = vec![direct, host_call(&relay_url, "", body.clone(), None)];
    paths.extend(
        hosts
            .iter()
            .map(|h| host_call(h, "/v1/panels/aagi-motor/quotes", body.clone(), None)),
    );
    rows.push(measure("AAGI quote", paths).await?);

    let aagi_application = aagi_application_sdk(aagi_quote);
    let direct_aagi_accept = {
        let (client, url, application) = (client.clone(), aagi_url.clone(), aagi_application.clone());
        move |_: u64| {
            let (client, url, application) = (client.clone(), url.clone(), application.clone());
            async move {
                let wire =
                    aagi_motor::mapping::contract(&application).map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let response = client
                    .post(format!("{url}/v1/motor/contracts"))
                    .bearer_auth("bench-token")
                    .json(&wire)
                    .send()
                    .await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "AAGI answered {}: {}",
                    response.status(),
                    response.text().await?
                );
                let parsed: aagi_motor::partner::ContractInfo =
                    serde_json::from_slice(&response.bytes().await?)?;
                aagi_motor::mapping::acceptance(parsed, application.mode)
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                anyhow::Ok(())
            }
        }
    };
    let body = examples("aagi-motor", "accept")?;
    let direct = path(direct_aagi_accept);
    let relay_url = relay(direct.clone(), "127.0.0.1:0").await?;
    let mut paths = vec![direct, host_call(&relay_url, "", body.clone(), None)];
    paths.extend(
        hosts
            .iter()
            .map(|h| host_call(h, "/v1/panels/aagi-motor/policies", body.clone(), None)),
    );
    rows.push(measure("AAGI accept", paths).await?);

    let in_flight = memory_in_flight(host_call(
        &hosts[0],
        "/v1/panels/A03/quotes",
        examples("A03", "quote")?,
        None,
    ))
    .await?;
    println!(
        "memory per request in flight: {in_flight:.0} KiB (peak RSS with {CONCURRENCY} host quotes in flight, over idle)"
    );
    println!(
        "\nlatency: {LATENCY_SAMPLES} requests per path, one at a time, the paths alternating; throughput: {CONCURRENCY} callers for {}s per path",
        SATURATION.as_secs()
    );
    print_rows(&rows);
    Ok(())
}
