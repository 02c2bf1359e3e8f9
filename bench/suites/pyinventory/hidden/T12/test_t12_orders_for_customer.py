from inventory.models import OrderLine, OrderStatus
from inventory.repository import OrderRepository


def repository_with_orders() -> OrderRepository:
    orders = OrderRepository()
    line = OrderLine(sku="ABC-0001", quantity=1, unit_price_cents=100)
    for customer_id in ["C-1", "C-2", "C-1", "c-1", "C-1", "C-10"]:
        orders.add(customer_id=customer_id, lines=[line])
    orders.get(3).status = OrderStatus.CANCELLED
    orders.get(5).status = OrderStatus.CONFIRMED
    return orders


def ids(orders) -> list[int]:
    return [order.id for order in orders]


def test_returns_the_customers_orders_by_ascending_id():
    assert ids(repository_with_orders().list_for_customer("C-1")) == [1, 3, 5]


def test_customer_id_is_compared_exactly():
    orders = repository_with_orders()
    assert ids(orders.list_for_customer("c-1")) == [4]
    assert ids(orders.list_for_customer("C-10")) == [6]


def test_status_filter():
    orders = repository_with_orders()
    assert ids(orders.list_for_customer("C-1", status=OrderStatus.PENDING)) == [1]
    assert ids(orders.list_for_customer("C-1", status=OrderStatus.CANCELLED)) == [3]
    assert ids(orders.list_for_customer("C-1", status=OrderStatus.CONFIRMED)) == [5]
    assert orders.list_for_customer("C-2", status=OrderStatus.CANCELLED) == []


def test_unknown_customer_gets_an_empty_list():
    assert repository_with_orders().list_for_customer("nobody") == []
    assert OrderRepository().list_for_customer("C-1") == []


def test_returns_the_stored_order_objects():
    orders = repository_with_orders()
    assert orders.list_for_customer("C-2")[0] is orders.get(2)
