//! Skio: GraphQL at `POST {base}/v1/graphql`. The only platform that finds a shopper by phone
//! and the only one whose skip answers with the new date.

use async_trait::async_trait;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Platform, WriteResult};
use crate::domain::{NextDate, PlatformKind, Shopper, Subscription, parse_platform_date};
use crate::outbound::{Account, Answer, OutboundError};

/// Everything about Skio's wire format in one place. The GraphQL documents follow
/// platforms.md; the variable types (`String!`) are unverified against Skio's schema.
pub mod wire {
    use secrecy::SecretString;

    pub const PATH: &str = "/v1/graphql";

    pub fn auth(token: &SecretString) -> reqwest::header::HeaderMap {
        crate::outbound::secret_header("authorization", "API ", token)
    }

    pub const BY_PHONE: &str = "query SubscriptionsByPhone($phone: String!) { Subscriptions(where: {status: {_eq: \"ACTIVE\"}, StorefrontUser: {phoneNumber: {_eq: $phone}}}) { id status nextBillingDate StorefrontUser { id email } } }";
    pub const BY_EMAIL: &str = "query SubscriptionsByEmail($email: String!) { Subscriptions(where: {status: {_eq: \"ACTIVE\"}, StorefrontUser: {emailLower: {_eq: $email}}}) { id status nextBillingDate StorefrontUser { id email } } }";
    pub const SKIP: &str = "mutation SkipSubscription($subscriptionId: String!) { skipSubscription(input: {subscriptionId: $subscriptionId}) { ok message nextBillingDate } }";
    pub const SET_DATE: &str = "mutation UpdateNextBillingDate($subscriptionId: String!, $date: String!) { updateNextBillingDate(input: {subscriptionId: $subscriptionId, date: $date}) { ok message } }";
}

pub struct Skio {
    client: Account,
    tz: TimeZone,
}

#[derive(Deserialize)]
struct GqlAnswer {
    data: Option<Value>,
    #[serde(default)]
    errors: Option<Vec<GqlError>>,
}

#[derive(Deserialize)]
struct GqlError {
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SkioSubscription {
    id: String,
    #[serde(default)]
    status: String,
    next_billing_date: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct MutationResult {
    ok: bool,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    next_billing_date: Option<String>,
}

impl Skio {
    pub fn new(client: Account, tz: TimeZone) -> Self {
        Self { client, tz }
    }

    /// Runs one GraphQL document and returns `data.<field>`. GraphQL reports failures two
    /// ways: a top-level `errors` array (the request itself was wrong) or `ok: false` inside
    /// the result (the action was refused); this handles the first, callers the second.
    async fn call(
        &self,
        op: &'static str,
        query: &str,
        variables: Value,
        field: &str,
    ) -> Result<Value, OutboundError> {
        let req = self
            .client
            .request(Method::POST, wire::PATH)
            .json(&json!({ "query": query, "variables": variables }));
        let answer: Answer = self.client.send(op, req).await?;
        let parsed: GqlAnswer = answer.json()?;
        if let Some(errors) = parsed.errors.filter(|e| !e.is_empty()) {
            let detail = errors
                .iter()
                .map(|e| e.message.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            return Err(OutboundError::refused("skio", op, detail));
        }
        parsed
            .data
            .and_then(|mut d| d.get_mut(field).map(Value::take))
            .ok_or_else(|| {
                OutboundError::retryable("skio", op, format!("answer has no data.{field}"))
            })
    }

    fn to_subscription(&self, s: SkioSubscription) -> Option<Subscription> {
        if !s.status.eq_ignore_ascii_case("ACTIVE") {
            return None;
        }
        let next = parse_platform_date(s.next_billing_date.as_deref()?, &self.tz)?;
        Some(Subscription {
            platform: PlatformKind::Skio,
            id: s.id,
            next,
            extra: Default::default(),
        })
    }

    fn mutation_result(&self, op: &'static str, v: Value) -> Result<MutationResult, OutboundError> {
        let r: MutationResult = serde_json::from_value(v).map_err(|e| {
            OutboundError::retryable("skio", op, format!("unreadable {op} result: {e}"))
        })?;
        if !r.ok {
            return Err(OutboundError::refused(
                "skio",
                op,
                r.message.unwrap_or_else(|| "ok: false".to_owned()),
            ));
        }
        Ok(r)
    }
}

#[async_trait]
impl Platform for Skio {
    fn kind(&self) -> PlatformKind {
        PlatformKind::Skio
    }

    fn needs_identity(&self, _shopper: &Shopper) -> bool {
        false
    }

    async fn find_active(&self, shopper: &Shopper) -> Result<Vec<Subscription>, OutboundError> {
        let mut subs = self
            .call(
                "lookup",
                wire::BY_PHONE,
                json!({ "phone": shopper.phone }),
                "Subscriptions",
            )
            .await?;
        // Some storefront users have no phone on file at Skio; fall back to the email.
        let empty = subs.as_array().is_none_or(|a| a.is_empty());
        if empty && let Some(email) = &shopper.email {
            subs = self
                .call(
                    "lookup",
                    wire::BY_EMAIL,
                    json!({ "email": email.to_lowercase() }),
                    "Subscriptions",
                )
                .await?;
        }
        let list: Vec<SkioSubscription> = serde_json::from_value(subs).map_err(|e| {
            OutboundError::retryable("skio", "lookup", format!("unreadable Subscriptions: {e}"))
        })?;
        Ok(list
            .into_iter()
            .filter_map(|s| self.to_subscription(s))
            .collect())
    }

    async fn get(
        &self,
        shopper: &Shopper,
        sub: &Subscription,
    ) -> Result<Option<Subscription>, OutboundError> {
        Ok(self
            .find_active(shopper)
            .await?
            .into_iter()
            .find(|s| s.id == sub.id))
    }

    async fn skip_next(&self, sub: &Subscription) -> WriteResult {
        let v = self
            .call(
                "skip",
                wire::SKIP,
                json!({ "subscriptionId": sub.id }),
                "skipSubscription",
            )
            .await?;
        let r = self.mutation_result("skip", v)?;
        Ok(r.next_billing_date
            .as_deref()
            .and_then(|d| parse_platform_date(d, &self.tz)))
    }

    async fn set_next_date(&self, sub: &Subscription, date: Date) -> WriteResult {
        let v = self
            .call(
                "set_date",
                wire::SET_DATE,
                json!({ "subscriptionId": sub.id, "date": date.to_string() }),
                "updateNextBillingDate",
            )
            .await?;
        self.mutation_result("set_date", v)?;
        // Skio sets exactly the date asked for; its answer carries no date to read.
        Ok(Some(NextDate { date, at: None }))
    }
}
