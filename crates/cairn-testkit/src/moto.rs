//! moto's AWS server on loopback (the Python `moto[server]` package, pinned in
//! `scripts/requirements-test.txt`): EC2, CloudWatch and STS as the instances console
//! speaks to them. The helpers here make instances (`RunInstances`), metric data
//! (`PutMetricData`) and role credentials (`AssumeRole`) through the Query protocol, the
//! way any AWS client would; moto does not check signatures, and takes the region and the
//! account from the request's credential scope and access key.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The account moto puts requests in whose access key it does not know.
pub const DEFAULT_ACCOUNT: &str = "123456789012";
/// An access key of the default account, as a Cairn account gives it.
pub const ACCESS_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// An AMI moto knows.
pub const AMI: &str = "ami-12c6146b";

pub struct MotoServer {
    pub port: u16,
    child: Option<Child>,
    http: reqwest::Client,
    log: std::path::PathBuf,
}

impl std::fmt::Debug for MotoServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MotoServer").field("port", &self.port).finish()
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// The values between `<tag>` and `</tag>` in `xml`, in order.
pub fn xml_values(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        found.push(after[..end].to_owned());
        rest = &after[end + close.len()..];
    }
    found
}

impl MotoServer {
    /// Starts moto; panics (naming the fix) when it is missing or does not listen.
    pub fn start() -> MotoServer {
        Self::spawn(false)
    }

    /// Starts moto checking credentials as AWS does: only access keys made through its IAM
    /// are accepted, so any key a test gives is refused (`InvalidClientTokenId`).
    pub fn start_checking_credentials() -> MotoServer {
        Self::spawn(true)
    }

    fn spawn(check_credentials: bool) -> MotoServer {
        let port = free_port();
        let mut command = Command::new("moto_server");
        if check_credentials {
            command.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        // moto logs a line per request on stderr: to a file, so a long run never fills a
        // pipe nobody reads.
        let log = std::env::temp_dir().join(format!("cairn-moto-{port}.log"));
        let child = command
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("moto's log file"))
            .spawn()
            .unwrap_or_else(|e| {
                panic!("moto_server does not run ({e}); install it with scripts/test or `pip install -r scripts/requirements-test.txt`")
            });
        let http = crate::http_client().build().expect("an HTTP client");
        let mut server = MotoServer { port, child: Some(child), http, log: log.clone() };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Some(status) = server.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let err = std::fs::read_to_string(&log).unwrap_or_default();
                panic!("moto_server exited ({status}): {err}");
            }
            assert!(Instant::now() < deadline, "moto_server did not listen on {port} within 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        server
    }

    /// The endpoint URL a Cairn account names.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops the server: from now on its port refuses connections.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// A Query-protocol call of `service` in `region` as the holder of `access_key`.
    pub async fn call(&self, access_key: &str, service: &str, region: &str, form: &[(String, String)]) -> String {
        let scope = format!("{access_key}/20260101/{region}/{service}/aws4_request");
        let answer = self
            .http
            .post(format!("{}/", self.url()))
            .header("authorization", format!("AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=00"))
            .header("x-amz-date", "20260101T000000Z")
            .form(form)
            .send()
            .await
            .expect("moto answers");
        let status = answer.status();
        let text = answer.text().await.expect("moto's body");
        assert!(status.is_success(), "moto refused {service} {form:?}: {status} {text}");
        text
    }

    /// Runs `count` instances of `instance_type` in `region`, each tagged `Name` =
    /// `{name}-{i}` plus `tags`; their ids, in order.
    pub async fn run_instances(
        &self,
        access_key: &str,
        region: &str,
        count: usize,
        name: &str,
        tags: &[(&str, &str)],
    ) -> Vec<String> {
        let mut ids = Vec::new();
        // One call per instance: each gets its own Name tag.
        for i in 0..count {
            let mut form: Vec<(String, String)> = [
                ("Action", "RunInstances"),
                ("Version", "2016-11-15"),
                ("ImageId", AMI),
                ("MinCount", "1"),
                ("MaxCount", "1"),
                ("InstanceType", "t3.micro"),
                ("TagSpecification.1.ResourceType", "instance"),
                ("TagSpecification.1.Tag.1.Key", "Name"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
            form.push(("TagSpecification.1.Tag.1.Value".into(), format!("{name}-{i}")));
            for (n, (k, v)) in tags.iter().enumerate() {
                form.push((format!("TagSpecification.1.Tag.{}.Key", n + 2), k.to_string()));
                form.push((format!("TagSpecification.1.Tag.{}.Value", n + 2), v.to_string()));
            }
            let xml = self.call(access_key, "ec2", region, &form).await;
            ids.extend(xml_values(&xml, "instanceId"));
        }
        ids
    }

    /// Runs `count` instances in one call (all named `name`): for large fleets.
    pub async fn run_many(&self, access_key: &str, region: &str, count: usize, name: &str) -> Vec<String> {
        let form: Vec<(String, String)> = [
            ("Action", "RunInstances"),
            ("Version", "2016-11-15"),
            ("ImageId", AMI),
            ("MinCount", &count.to_string()),
            ("MaxCount", &count.to_string()),
            ("InstanceType", "t3.micro"),
            ("TagSpecification.1.ResourceType", "instance"),
            ("TagSpecification.1.Tag.1.Key", "Name"),
            ("TagSpecification.1.Tag.1.Value", name),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        xml_values(&self.call(access_key, "ec2", region, &form).await, "instanceId")
    }

    /// The state moto gives an instance now.
    pub async fn state_of(&self, access_key: &str, region: &str, id: &str) -> String {
        let form: Vec<(String, String)> =
            [("Action", "DescribeInstances"), ("Version", "2016-11-15"), ("InstanceId.1", id)]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        let xml = self.call(access_key, "ec2", region, &form).await;
        let state = xml.split("<instanceState>").nth(1).expect("the instance's state");
        xml_values(state, "name").into_iter().next().expect("a state name")
    }

    /// Puts `points` (epoch ms, value) of the `AWS/EC2` metric `metric` for `instance`.
    pub async fn put_metric(
        &self,
        access_key: &str,
        region: &str,
        instance: &str,
        metric: &str,
        points: &[(i64, f64)],
    ) {
        let mut form: Vec<(String, String)> = vec![
            ("Action".into(), "PutMetricData".into()),
            ("Version".into(), "2010-08-01".into()),
            ("Namespace".into(), "AWS/EC2".into()),
        ];
        for (i, (time, value)) in points.iter().enumerate() {
            let n = i + 1;
            let time = jiff::Timestamp::from_millisecond(*time).expect("a time").to_string();
            form.push((format!("MetricData.member.{n}.MetricName"), metric.into()));
            form.push((format!("MetricData.member.{n}.Value"), value.to_string()));
            form.push((format!("MetricData.member.{n}.Timestamp"), time));
            form.push((format!("MetricData.member.{n}.Dimensions.member.1.Name"), "InstanceId".into()));
            form.push((format!("MetricData.member.{n}.Dimensions.member.1.Value"), instance.into()));
        }
        self.call(access_key, "monitoring", region, &form).await;
    }

    /// Assumes `role_arn` (moto lets anyone): the access key of the role's account, with
    /// which instances are made in that account.
    pub async fn role_access_key(&self, role_arn: &str) -> String {
        let form: Vec<(String, String)> = [
            ("Action", "AssumeRole"),
            ("Version", "2011-06-15"),
            ("RoleArn", role_arn),
            ("RoleSessionName", "cairn-test"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let xml = self.call(ACCESS_KEY, "sts", "us-east-1", &form).await;
        xml_values(&xml, "AccessKeyId").into_iter().next().expect("assumed credentials")
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_file(&self.log);
    }
}
