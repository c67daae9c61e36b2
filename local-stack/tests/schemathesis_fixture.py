#!/usr/bin/env python3
"""Real resources for schemathesis to aim at, and the config that names them.

Without them, every operation on `/{id}` meets a 404 and never reaches its logic. Through the
gateway, as the given admin, this creates a brand, a category with an attribute, a product with
options, a promotion, stock for one of its SKUs, an address, a cart line, an order and an account
to lock, then writes a schemathesis.toml that fixes each operation's path parameters to them.
Bodies and queries stay generated. Operations that delete or end a resource keep generated ids,
so the resources live through the whole run.

    schemathesis_fixture.py GATEWAY TOKEN SOURCE_IP OUT.toml
"""

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_client import Gateway  # noqa: E402

gateway, token, source_ip, out = sys.argv[1:5]
client = Gateway(gateway, source_ip, token)
tag = f"{int(time.time() * 1000):x}"


def call(method, path, body=None, *, bearer=token, key=None):
    """One request from SOURCE_IP; answers (status, data of the envelope). bearer=None sends none."""
    return client.call(method, path, body, key=key, bearer=bearer or False)


def made(method, path, body, *, key=None, bearer=token):
    status, data = call(method, path, body, key=key, bearer=bearer)
    if status not in (200, 201, 202):
        sys.exit(f"fixture: {method} {path} answered {status}: {data}")
    return data


def until(what, attempt, seconds=30):
    """Repeats ATTEMPT (a request) until it answers 2xx, within a deadline: events take a moment."""
    deadline = time.monotonic() + seconds
    while True:
        status, data = attempt()
        if 200 <= status < 300:
            return data
        if time.monotonic() > deadline:
            sys.exit(f"fixture: {what} did not happen within {seconds}s; the last answer was {status}: {data}")
        time.sleep(0.2)


brand = made("POST", "/admin/brands", {"brandId": f"st-brand-{tag}", "name": f"Schemathesis {tag}"})["brandId"]
category = made("POST", "/admin/categories", {"categoryId": f"st-cat-{tag}", "name": f"Fuzzed {tag}"})["categoryId"]
attribute = made(
    "POST", f"/admin/categories/{category}/attributes", {"name": "Warranty", "type": "NUMBER", "required": False}
)["attributeId"]
product = f"st-prod-{tag}"
made(
    "POST",
    "/admin/products",
    {
        "productId": product,
        "name": f"Fuzzed mug {tag}",
        "priceMinor": 1_000,
        "currency": "EUR",
        "brandId": brand,
        "categoryId": category,
        "optionGroups": [{"name": "Colour", "options": [{"name": "Red"}, {"name": "Blue"}]}],
    },
)
page = made("GET", f"/products/{product}", None)
option = page["optionGroups"][0]["options"][0]["optionId"]
sku = page["skus"][0]["sku"]
promotion = made(
    "POST", f"/admin/products/{product}/promotions", {"name": "Fuzz sale", "discountType": "RATE", "discountValue": 10}
)["promotionId"]
# Inventory learns the SKU from the catalog's event; ordering learns its price the same way.
until(f"inventory knowing {sku}", lambda: call("PUT", f"/admin/inventory/{sku}", {"onHand": 100_000}))
address = made(
    "POST",
    "/users/me/addresses",
    {"recipient": "Fuzz Tester", "phone": "+49 30 1234567", "line1": "Teststr. 1", "city": "Berlin",
     "postalCode": "10115", "country": "DE"},
)["addressId"]
until(
    f"the cart taking {sku}",
    lambda: call("POST", "/cart/items", {"sku": sku, "quantity": 1}, key=f"st-cart-{tag}"),
)
order = made(
    "POST", "/orders", {"lines": [{"productId": sku, "quantity": 1}], "paymentToken": "tok_approve"}, key=f"st-{tag}"
)["orderId"]
password = "schemathesis passphrase 1"
locked = made(
    "POST",
    "/auth/register",
    {"email": f"schemathesis-locked-{tag}@example.com", "password": password, "displayName": "To lock"},
    bearer=None,
)["id"]

paths = {
    "getBrand": {"id": brand},
    "renameBrand": {"id": brand},
    "listCategoryAttributes": {"id": category},
    "createCategoryAttribute": {"id": category},
    "updateCategoryAttribute": {"id": category, "attributeId": attribute},
    "getProduct": {"id": product},
    "getProductAttributes": {"id": product},
    "setProductAttributes": {"id": product},
    "updateProduct": {"id": product},
    "changeProductPrice": {"id": product},
    "changeProductStatus": {"id": product},
    "activateProduct": {"id": product},
    "addProductOptions": {"id": product},
    "createPromotion": {"id": product},
    "listPromotions": {"id": product},
    "listReviews": {"id": product},
    "writeReview": {"id": product},
    "findSku": {"id": product},
    "likeProduct": {"id": product},
    "unlikeProduct": {"id": product},
    "getAvailability": {"sku": sku},
    "setStock": {"sku": sku},
    "adjustStock": {"sku": sku},
    "listStockChanges": {"sku": sku},
    "setCartItemQuantity": {"sku": sku},
    "setDefaultAddress": {"id": address},
    "getOrder": {"id": order},
    "requestRefund": {"id": order},
    "cancelOrder": {"id": order},
    "lockUser": {"id": locked},
    "unlockUser": {"id": locked},
    "getPublicProfile": {"id": locked},
}
with open(out, "w", encoding="utf-8") as config:
    config.write("# Written by local-stack/tests/schemathesis_fixture.py for one run; not kept.\n")
    for operation, values in paths.items():
        config.write(f'\n[[operations]]\ninclude-operation-id = "{operation}"\n')
        pairs = ", ".join(f'"path.{name}" = {json.dumps(value)}' for name, value in values.items())
        config.write(f"parameters = {{ {pairs} }}\n")
print(
    f"brand {brand}, category {category} (attribute {attribute}), product {product} (SKU {sku}, option {option}, "
    f"promotion {promotion}), address {address}, order {order}, account to lock {locked}"
)
