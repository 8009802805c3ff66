import json


def _is_int(value):
    # bool is a subclass of int in Python, but true and false are not numbers here.
    return type(value) is int


def _valid_item(item):
    return (
        isinstance(item, dict)
        and isinstance(item.get("sku"), str)
        and item["sku"] != ""
        and _is_int(item.get("qty"))
        and item["qty"] >= 1
        and _is_int(item.get("price_cents"))
        and item["price_cents"] >= 0
    )


def summarize(orders_json):
    """Summarize a JSON text of orders into per-SKU quantities and revenue."""
    try:
        document = json.loads(orders_json)
    except ValueError:
        return {"error": "invalid json"}
    if not isinstance(document, dict) or not isinstance(document.get("orders"), list):
        return {"error": "invalid document"}

    counted = cancelled = skipped_orders = skipped_items = 0
    skus = {}
    for order in document["orders"]:
        if not isinstance(order, dict):
            skipped_orders += 1
            continue
        if order.get("status") == "cancelled":
            cancelled += 1
            continue
        discount = order.get("discount_pct")
        if discount is None:
            discount = 0
        items = order.get("items")
        if not isinstance(items, list) or not _is_int(discount) or not 0 <= discount <= 100:
            skipped_orders += 1
            continue
        counted += 1
        for item in items:
            if not _valid_item(item):
                skipped_items += 1
                continue
            amount = item["qty"] * item["price_cents"]
            # Round to the nearest cent, halves up, in integers only.
            amount = (amount * (100 - discount) + 50) // 100
            entry = skus.setdefault(item["sku"], {"qty": 0, "revenue_cents": 0})
            entry["qty"] += item["qty"]
            entry["revenue_cents"] += amount

    top_sku = None
    if skus:
        top_sku = min(skus, key=lambda sku: (-skus[sku]["revenue_cents"], sku))
    return {
        "orders": counted,
        "cancelled": cancelled,
        "skipped_orders": skipped_orders,
        "skipped_items": skipped_items,
        "skus": {sku: skus[sku] for sku in sorted(skus)},
        "revenue_cents": sum(entry["revenue_cents"] for entry in skus.values()),
        "top_sku": top_sku,
    }
