#!/usr/bin/env python3
"""The payment gateway's fault knob, seen from a shopper: the saga's answer to an outage.

Through the gateway, as the given admin, this creates a product with stock, then
  1. with payment.failure-rate=1, places an order paid with tok_approve: every gateway call fails
     as an outage, the dispatcher redelivers to authorize-payment until its five attempts are used
     up (four retried deliveries), and the order ends CANCELLED, payment-declined (tok_approve is
     otherwise never declined);
  2. with the knob cleared, places a second order the same way: it ends CONFIRMED.
Prints one line per check and exits non-zero when one fails. Leaves the knob off.

    faults_saga.py GATEWAY ADMIN_TOKEN SOURCE_IP FAULTS_COMMAND DISPATCHER_METRICS AUTHORIZE_METRICS
"""

import subprocess
import sys
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gateway_client import Gateway  # noqa: E402

gateway, token, source_ip, faults, dispatcher_metrics, authorize_metrics = sys.argv[1:7]
call = Gateway(gateway, source_ip, token).call
tag = f"{int(time.time() * 1000):x}"


def until(what, attempt, seconds):
    """Repeats ATTEMPT until it answers something truthy, within a deadline; answers that."""
    deadline = time.monotonic() + seconds
    while True:
        outcome = attempt()
        if outcome:
            return outcome
        if time.monotonic() > deadline:
            sys.exit(f"    ✗ {what} did not happen within {seconds} s")
        time.sleep(0.2)


def metric(url, name, *labels):
    """The sum of a /metrics page's NAME{…} samples that carry every label given.

    Summed, not the first match: a counter can have several series for the same labels (the
    dispatcher's attempts to authorize-payment come from two topics), and the exporter does not
    keep its series in a stable order between two reads."""
    total = 0.0
    with urllib.request.urlopen(url, timeout=10) as response:
        for line in response.read().decode().splitlines():
            if line.startswith(name + "{") and all(label in line for label in labels):
                total += float(line.rsplit(" ", 1)[1])
    return total


def retried_authorizations():
    """The dispatcher's count of retried deliveries to authorize-payment, over both its topics."""
    return metric(dispatcher_metrics, "dispatcher_delivery_attempts_total", 'function="authorize-payment"',
                  'verdict="retryable"')


def payment_failure_rate(value):
    """Sets the knob and waits until authorize-payment has read it (it follows the file twice a second)."""
    subprocess.run([faults, "set", f"payment.failure-rate={value}"], check=True, stdout=subprocess.DEVNULL)
    until(f"authorize-payment reading payment.failure-rate={value}",
          lambda: metric(authorize_metrics, "fault_knob", 'knob="payment_failure_rate"') == value, 10)


def order_ending(label):
    """Places an order for one unit paid with tok_approve; answers the order once it is final."""
    def placed():
        # Ordering learns the SKU's price from the catalog's event, a moment after it is created.
        status, data = call(
            "POST", "/orders", {"lines": [{"productId": sku, "quantity": 1}], "paymentToken": "tok_approve"},
            key=f"faults-{label}-{tag}",
        )
        if status == 422 and data.get("error", {}).get("code") == "UNKNOWN_PRODUCT":
            return None
        if status != 201:
            sys.exit(f"    ✗ placing the {label} order answered {status}: {data}")
        return data

    data = until(f"ordering knowing {sku}", placed, 30)
    order_id = data["orderId"]

    def final():
        status, order = call("GET", f"/orders/{order_id}")
        return order if status == 200 and order["status"] in ("CONFIRMED", "CANCELLED") else None

    # Five gateway attempts, each retried by the dispatcher after its backoff.
    return until(f"order {order_id} ({label}) reaching CONFIRMED or CANCELLED", final, 120)


product = f"faults-{tag}"
status, data = call(
    "POST", "/admin/products", {"productId": product, "name": f"Fault knob mug {tag}", "priceMinor": 900, "currency": "EUR"}
)
if status != 201:
    sys.exit(f"    ✗ creating a product answered {status}: {data}")
sku = until(f"product {product} readable", lambda: call("GET", f"/products/{product}")[1].get("skus"), 30)[0]["sku"]
# Inventory and ordering learn the SKU from the catalog's event.
until(f"inventory knowing {sku}", lambda: call("PUT", f"/admin/inventory/{sku}", {"onHand": 10})[0] == 200, 30)

try:
    payment_failure_rate(1)
    retried_before = retried_authorizations()
    outage = order_ending("outage")
    retried = retried_authorizations() - retried_before
    if outage["status"] == "CANCELLED" and outage.get("cancelReason") == "payment-declined" and retried >= 4:
        print(f"    ✓ with payment.failure-rate=1, a tok_approve order ends CANCELLED, payment-declined, "
              f"after {retried:.0f} retried authorizations")
    else:
        sys.exit(f"    ✗ under the outage the order ended {outage['status']} ({outage.get('cancelReason')}) "
                 f"after {retried:.0f} retried authorizations")
finally:
    payment_failure_rate(0)

healthy = order_ending("healthy")
if healthy["status"] != "CONFIRMED":
    sys.exit(f"    ✗ with the knob off the order ended {healthy['status']} ({healthy.get('cancelReason')})")
print("    ✓ with the knob back at 0, the next tok_approve order ends CONFIRMED")
