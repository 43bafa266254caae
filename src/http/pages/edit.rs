//! The admin page that edits a lot: the current details in a form; only
//! what the admin changed is sent to the same edit as the JSON API
//! (`crate::http::edit`), so an unchanged title is not an edit after the
//! first bid.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::bidder::load_auction;
use super::context::PageCtx;
use super::errors::{sentence, PageError};
use super::render::{money_input, parse_money, Flash, Layout, Section};
use crate::http::admin::MAX_TITLE_CHARS;
use crate::http::edit::{edit_auction, EditAuction};
use crate::store::AuctionRecord;

/// The form as typed.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    title: Option<String>,
    #[serde(default)]
    description: String,
    reserve_price: Option<String>,
    buy_now_price: Option<String>,
    #[serde(default)]
    reason: String,
}

#[derive(Template)]
#[template(path = "admin/edit.html")]
struct EditPage {
    layout: Layout,
    id: String,
    title: String,
    form: EditForm,
    has_bids: bool,
    max_title: usize,
    error_list: Vec<String>,
}

fn form_of(record: &AuctionRecord) -> EditForm {
    let rules = &record.auction.rules;
    EditForm {
        title: Some(record.title.clone()),
        description: record.description.clone(),
        reserve_price: Some(rules.reserve_price.map(money_input).unwrap_or_default()),
        buy_now_price: Some(rules.buy_now_price.map(money_input).unwrap_or_default()),
        ..EditForm::default()
    }
}

fn page(ctx: &PageCtx, record: &AuctionRecord, form: EditForm, errors: Vec<String>) -> EditPage {
    EditPage {
        layout: ctx.layout(format!("Edit “{}”", record.title), Section::Admin),
        id: record.id.to_string(),
        title: record.title.clone(),
        form,
        has_bids: record.auction.state.bid_count > 0,
        max_title: MAX_TITLE_CHARS,
        error_list: errors,
    }
}

/// `GET /admin/auctions/{id}/edit`
pub async fn edit_form(ctx: PageCtx, id: web::Path<String>) -> Result<HttpResponse, PageError> {
    ctx.require_admin()?;
    let record = load_auction(&ctx, &id).await?;
    ctx.page(&page(&ctx, &record, form_of(&record), Vec::new()))
}

/// A price field: empty is none; `Err` when it is not an amount.
fn price(text: &str, label: &str) -> Result<Option<i64>, String> {
    match text.trim() {
        "" => Ok(None),
        text => parse_money(text)
            .map(Some)
            .map_err(|_| format!("{label} must be an amount like 12.50.")),
    }
}

/// What the form changes against `record`, or the format messages.
fn changes(record: &AuctionRecord, form: &EditForm) -> Result<EditAuction, Vec<String>> {
    let rules = &record.auction.rules;
    let mut errors = Vec::new();
    let mut edit = EditAuction::default();
    if let Some(title) = &form.title {
        if title.trim() != record.title {
            edit.title = Some(title.clone());
        }
    }
    let description = form.description.replace("\r\n", "\n");
    if description != record.description {
        edit.description = Some(description);
    }
    for (text, label, now, slot) in [
        (
            &form.reserve_price,
            "The reserve price",
            rules.reserve_price,
            &mut edit.reserve_price,
        ),
        (
            &form.buy_now_price,
            "The buy-now price",
            rules.buy_now_price,
            &mut edit.buy_now_price,
        ),
    ] {
        let Some(text) = text else { continue };
        match price(text, label) {
            Ok(amount) if amount != now => *slot = Some(amount),
            Ok(_) => {}
            Err(message) => errors.push(message),
        }
    }
    if !form.reason.trim().is_empty() {
        edit.reason = Some(form.reason.clone());
    }
    if errors.is_empty() {
        Ok(edit)
    } else {
        Err(errors)
    }
}

/// `POST /admin/auctions/{id}/edit`
pub async fn edit(
    ctx: PageCtx,
    id: web::Path<String>,
    form: web::Form<EditForm>,
) -> Result<HttpResponse, PageError> {
    ctx.check_csrf(&form.csrf)?;
    let admin = ctx.require_admin()?;
    let record = load_auction(&ctx, &id).await?;
    let back = format!("/admin/auctions/{}", record.id);
    let form = form.into_inner();
    let input = match changes(&record, &form) {
        Ok(input) => input,
        Err(errors) => {
            let page = page(&ctx, &record, form, errors);
            return ctx.page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page);
        }
    };
    if input.title.is_none()
        && input.description.is_none()
        && input.reserve_price.is_none()
        && input.buy_now_price.is_none()
    {
        return Ok(ctx.redirect(&back, Some(Flash::success("Nothing was changed."))));
    }
    match edit_auction(&ctx.state, admin, &id, &input).await {
        Ok(_) => Ok(ctx.redirect(&back, Some(Flash::success("The lot was edited.")))),
        Err(error)
            if error.status().is_client_error() && error.status() != StatusCode::FORBIDDEN =>
        {
            let object = error.error_object();
            let mut errors: Vec<String> = object["fields"]
                .as_object()
                .map(|fields| {
                    fields
                        .iter()
                        .map(|(field, message)| {
                            sentence(&format!(
                                "{} {}",
                                field.replace('_', " "),
                                message.as_str().unwrap_or("is not valid")
                            ))
                        })
                        .collect()
                })
                .unwrap_or_default();
            if errors.is_empty() {
                errors.push(sentence(error.message()));
            }
            let page = page(&ctx, &record, form, errors);
            ctx.page_with_status(StatusCode::UNPROCESSABLE_ENTITY, &page)
        }
        Err(error) => Err(error.into()),
    }
}
