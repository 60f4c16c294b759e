import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from app.auth import CurrentPrincipal
from app.deliveries import repository, service
from app.deliveries.schemas import (
    DeliveryAsk,
    DeliveryCreate,
    DeliveryService,
    DeliveryServiceCreate,
    DeliveryServicePage,
    Quote,
    ServiceSlot,
    ServiceSlotPage,
    ShopDelivery,
    ShopDeliveryPage,
)
from app.deliveries.views import delivery_view, quote_view, service_slot_view, service_view
from app.gateway.idempotency import IdempotencyKey
from app.kit.local_time import brussels_today
from app.kit.owned import answer
from app.kit.pagination import Page, creation_key, page_links
from app.kit.problem_docs import AUTHENTICATED, WRITE, problems
from app.kit.request_session import Session
from app.settings import AppSettings

router = APIRouter(tags=["deliveries"])

_NO_SERVICE = "No delivery service of yours has this id (another organization's answers so too)"
_NO_DELIVERY = "No delivery of yours has this id (another organization's answers so too)"


@router.post(
    "/v1/delivery-services",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Publish a delivery service (role carrier)",
    description="Your shared rounds, for shops to book into: the zone where they pick up and "
    "deliver, the hub they ride from and back to (a site of yours of kind hub), the weekdays "
    "and slots with their cut-offs, the vehicles of your fleet that ride them, the prices and "
    "the largest delivery taken. 422 names each field that breaks a rule (a zone that is not a "
    "valid polygon, a hub or a vehicle that is not yours).",
    responses=problems(*AUTHENTICATED, *WRITE, 403),
)
async def publish_service(
    data: DeliveryServiceCreate, principal: CurrentPrincipal, session: Session, response: Response
) -> DeliveryService:
    row = await service.publish_service(session, principal, data)
    response.headers["Location"] = f"/v1/delivery-services/{row.id}"
    return answer(response, row, service_view)


@router.get(
    "/v1/delivery-services",
    summary="Your delivery services, oldest first",
    description="Your organization's delivery services, oldest first, a page at a time: "
    "follow the `next` link while there is one.",
    responses=problems(*AUTHENTICATED, 422),
)
async def list_services(
    request: Request, principal: CurrentPrincipal, session: Session, page: Page
) -> DeliveryServicePage:
    rows = await service.list_services(session, principal, page)
    return DeliveryServicePage(
        items=[service_view(r) for r in rows], links=page_links(request, page, rows, creation_key)
    )


@router.get(
    "/v1/delivery-services/{service_id}",
    summary="One of your delivery services",
    description="The service with its `ETag`. Another organization's service answers 404, as "
    "a missing one does.",
    responses=problems(*AUTHENTICATED, 404, 422, says={404: _NO_SERVICE}),
)
async def read_service(
    service_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> DeliveryService:
    return answer(response, await service.get_service(session, principal, service_id), service_view)


@router.get(
    "/v1/delivery-services/{service_id}/slots",
    summary="The slots of one of your services, with their deliveries",
    description="The slots that have had bookings, starting on `days` days from `from` (a "
    "Brussels date, today by default), soonest first: each with its status, its rounds as "
    "booked (each vehicle's stops in order), the route plan made at its cut-off and its "
    "deliveries, with what to pick up where and where to bring it. Another organization's "
    "service answers 404.",
    responses=problems(*AUTHENTICATED, 404, 422, says={404: _NO_SERVICE}),
)
async def list_service_slots(
    service_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: Session,
    first: Annotated[
        date | None, Query(alias="from", description="The first day, YYYY-MM-DD; today by default.")
    ] = None,
    days: Annotated[int, Query(ge=1, le=31, description="How many days, 1 to 31.")] = 7,
) -> ServiceSlotPage:
    rows = await service.service_slots(
        session, principal, service_id, first or brussels_today(), days
    )
    return ServiceSlotPage(items=[service_slot_view(slot, found) for slot, found in rows])


@router.post(
    "/v1/delivery-services/{service_id}/slots/{slot_id}/close",
    dependencies=[IdempotencyKey],
    summary="Close a slot now and plan its rounds",
    description="The cut-off now rather than at the slot's time (a full slot, riders ready): "
    "bookings close, and the slot's rounds are planned as at its cut-off (its `route_plan_id`; "
    "its deliveries are `planned` once the plan is done). A slot already closed is answered as "
    "it is. Another organization's service or slot answers 404.",
    responses=problems(*AUTHENTICATED, 404, 422, says={404: _NO_SERVICE}),
)
async def close_slot(
    service_id: uuid.UUID,
    slot_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
) -> ServiceSlot:
    slot, deliveries = await service.close_slot(session, settings, principal, service_id, slot_id)
    return service_slot_view(slot, deliveries)


@router.post(
    "/v1/delivery-quotes",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="What a delivery would cost, and when (role shop)",
    description="The options of a delivery from your shop (a site of yours, or a point) to a "
    "customer's door, between `earliest` and `latest`: for each slot of the services whose zone "
    "holds both ends, not past its cut-off, whose round can take it as booked so far without "
    "breaking a capacity, a window, a shift or a range, its price with and without VAT and its "
    "CO2e against the same delivery by van alone; cheapest first, then soonest. Book one with "
    "`POST /v1/deliveries` before `expires_at`. None: 422 `outside_every_zone` or "
    "`larger_than_every_service_takes` (naming the field), 409 `no_slot_left` (every slot "
    "full or past its cut-off).",
    responses=problems(*AUTHENTICATED, 400, 403, 409, 413, 422),
)
async def ask_quote(
    data: DeliveryAsk, principal: CurrentPrincipal, session: Session, settings: AppSettings
) -> Quote:
    return quote_view(await service.quote(session, settings, principal, data))


@router.post(
    "/v1/deliveries",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IdempotencyKey],
    summary="Book a delivery (role shop)",
    description="Books an option of an unexpired quote (`quote_id` and `option_id`) at its "
    "price, or the first option of an `ask` directly, into the slot's round. When the slot "
    "filled up since the quote: 409 `slot_full` with the `options` that fit now, and nothing "
    "booked. Send an `Idempotency-Key` so that a retried booking books once. Your webhooks "
    "hear `delivery.booked`.",
    responses=problems(
        *AUTHENTICATED, *WRITE, 403, 404, says={404: "No quote of yours has this id"}
    ),
)
async def book_delivery(
    data: DeliveryCreate,
    principal: CurrentPrincipal,
    session: Session,
    settings: AppSettings,
    response: Response,
) -> ShopDelivery:
    row = await service.book(session, settings, principal, data)
    response.headers["Location"] = f"/v1/deliveries/{row.id}"
    [(row, slot)] = await repository.with_slots(session, [row])
    return answer(response, row, lambda r: delivery_view(r, slot))


@router.get(
    "/v1/deliveries",
    summary="Your shop's deliveries, oldest first",
    description="The deliveries your organization booked, oldest first, each with its slot, "
    "price and status, a page at a time: follow the `next` link while there is one.",
    responses=problems(*AUTHENTICATED, 422),
)
async def list_shop_deliveries(
    request: Request, principal: CurrentPrincipal, session: Session, page: Page
) -> ShopDeliveryPage:
    rows = await service.list_deliveries(session, principal, page)
    return ShopDeliveryPage(
        items=[delivery_view(r, s) for r, s in await repository.with_slots(session, rows)],
        links=page_links(request, page, rows, creation_key),
    )


@router.get(
    "/v1/deliveries/{delivery_id}",
    summary="One of your deliveries",
    description="The delivery with its status, slot and price. Another organization's "
    "delivery answers 404, as a missing one does.",
    responses=problems(*AUTHENTICATED, 404, 422, says={404: _NO_DELIVERY}),
)
async def read_delivery(
    delivery_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> ShopDelivery:
    row = await service.get_delivery(session, principal, delivery_id)
    [(row, slot)] = await repository.with_slots(session, [row])
    return answer(response, row, lambda r: delivery_view(r, slot))


@router.post(
    "/v1/deliveries/{delivery_id}/cancel",
    dependencies=[IdempotencyKey],
    summary="Cancel a delivery until its slot's cut-off",
    description="Takes the delivery out of its slot's round; cancelling it again answers it "
    "as it is. Past the cut-off (the round is planned): 409 `past_cutoff`. Your webhooks hear "
    "`delivery.cancelled`.",
    responses=problems(*AUTHENTICATED, 404, 409, 422, says={404: _NO_DELIVERY}),
)
async def cancel_delivery(
    delivery_id: uuid.UUID, principal: CurrentPrincipal, session: Session, response: Response
) -> ShopDelivery:
    row = await service.cancel(session, principal, delivery_id)
    [(row, slot)] = await repository.with_slots(session, [row])
    return answer(response, row, lambda r: delivery_view(r, slot))
