"""The Desk Coll mapping against the spec's own examples. Run with the generated bindings on the
path: `./dev test` does (`python3 -m unittest discover -s adapters/deskcoll/tests`)."""

import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get("DESKCOLL_BINDINGS", os.path.join(HERE, "../../../target/guests/deskcoll-bindings")))
sys.path.insert(0, os.path.join(HERE, "../src"))

from componentize_py_types import Err  # noqa: E402
from wit_world.imports import types as t  # noqa: E402

import mapping  # noqa: E402

SPEC_TASK = {
    "contract_no": "000318270200055", "name": "TRIJAYA KONSTRUKSI MEGAH", "contract_person": "",
    "address": "JL. SAWANGAN LINGKUNGAN V", "branch_name": "JAKARTA 1", "marketing_name": "JUWITA FIKA TYASTI",
    "phone1": "085340060088", "phone2": "", "phone3": "", "phone4": "", "overdue": "5",
    "installmentNumber": "29949000.00", "total_installmentNumber": "54", "dueDate_Installment": "2021-03-20",
    "payment_methode": "Transfer", "description_assets": "DOOSAN EXCAVATOR DX300LCA", "customer_code": "C18030135",
    "installment_amount": None, "penalty": "77312731.00", "total_amount": "107261731.00", "osar": "1445252000",
    "lastpaid_amount": "29949000.00", "lastpaid_duedate": "2/20/2021 12:00:00 AM", "lastpaid_tenor": "28",
    "lastpaid_paymentdate": "2021-02-22", "product": "CF - HEAVY EQUIPMENT BARU", "flag_dedicated": "1",
}


def spec_result(**overrides):
    fields = dict(
        contract="000319280100042", contacted_at="2021-12-29T00:00:00", debtor="PUTRA SIMEULUE CUTT",
        result_code="PTP01", action_code="PTP", remark="Customer pasti bayar 22", agent="1812010",
        agent_address="10.1.206.118", promise_date="2021-12-31T00:00:00", period=0,
    )
    fields.update(overrides)
    return t.CollectionResult(**fields)


OPTIONAL_TEXT = ("customer_code", "contact_person", "address", "branch", "officer", "overdue", "payment_method",
                 "asset", "product", "due_date")


def assert_wit_types(case, task):
    """What the WIT's `collection-task` takes: a value of another type traps at the boundary."""
    case.assertIsInstance(task.contract, str)
    case.assertIsInstance(task.debtor, str)
    for field in OPTIONAL_TEXT:
        case.assertIsInstance(getattr(task, field), (str, type(None)), field)
    for count in (task.installments_total, task.last_payment.installment):
        case.assertTrue(count is None or (type(count) is int and 0 <= count <= 2**32 - 1), count)
    for money in (task.installment_due, task.penalty, task.total_due, task.outstanding, task.last_payment.amount):
        case.assertTrue(money is None or isinstance(money.amount, str), money)
    for phone in task.phones:
        case.assertIsInstance(phone.number, str)
    case.assertIsInstance(task.dedicated, (bool, type(None)))


class Tasks(unittest.TestCase):
    def test_the_spec_example_task_maps_to_a_collection_task(self):
        items = mapping.work_items(200, json.dumps({"data": [SPEC_TASK]}).encode())
        task = items[0].value
        self.assertEqual(task.contract, "000318270200055")
        self.assertEqual(task.installment_due, t.Money("29949000.00", "IDR"))
        self.assertEqual(task.total_due, t.Money("107261731.00", "IDR"))
        self.assertEqual(task.last_payment.due_date, "2021-02-20")
        self.assertEqual([p.number for p in task.phones], ["085340060088"])
        # The spec gives phones no kind: 2.0's open set says `other`, as a 1.x adapter's did.
        self.assertEqual(task.phones[0].kind, t.PhoneKind_Other("other"))
        self.assertTrue(task.dedicated)

    def test_numbers_where_the_seed_shows_text_are_sent_as_their_text(self):
        given = dict(SPEC_TASK, overdue=5, customer_code=18030135, address=12, branch_name=1, marketing_name=7,
                     payment_methode=3, description_assets=300, product=4, phone1=85340060088, flag_dedicated=1)
        raw = json.dumps({"data": [given]}).replace('"installmentNumber": "29949000.00"', '"installmentNumber": 29949000.00')
        task = mapping.work_items(200, raw.encode())[0].value
        self.assertEqual(
            (task.overdue, task.customer_code, task.address, task.branch, task.officer, task.payment_method, task.asset, task.product),
            ("5", "18030135", "12", "1", "7", "3", "300", "4"),
        )
        self.assertEqual([p.number for p in task.phones], ["85340060088"])
        # The amount keeps the zeros the partner wrote (a float would read 29949000.0).
        self.assertEqual(task.installment_due, t.Money("29949000.00", "IDR"))
        self.assertTrue(task.dedicated)
        assert_wit_types(self, task)

    def test_values_the_wit_cannot_carry_are_taken_as_null(self):
        given = dict(SPEC_TASK, overdue={"days": 5}, customer_code=["C18030135"], address=True, branch_name={},
                     marketing_name=[], payment_methode=False, description_assets={"a": 1}, product=[1],
                     contract_person={"n": 1}, phone2=["0811"], total_installmentNumber="-1",
                     lastpaid_tenor="5000000000", penalty="1e+20", total_amount={"x": 1}, osar=[1],
                     dueDate_Installment=20210320, lastpaid_duedate=5, lastpaid_paymentdate=["2021-02-22"])
        task = mapping.work_items(200, json.dumps({"data": [given]}).encode())[0].value
        for field in ("overdue", "customer_code", "address", "branch", "officer", "payment_method", "asset", "product",
                      "contact_person", "installments_total", "penalty", "total_due", "outstanding", "due_date"):
            with self.subTest(field=field):
                self.assertIsNone(getattr(task, field))
        self.assertIsNone(task.last_payment.installment)
        self.assertIsNone(task.last_payment.due_date)
        self.assertIsNone(task.last_payment.paid_date)
        self.assertEqual([p.number for p in task.phones], ["085340060088"])
        assert_wit_types(self, task)

    def test_a_lone_surrogate_no_wit_string_can_carry_is_taken_as_null(self):
        raw = json.dumps({"data": [dict(SPEC_TASK, address="\ud800")]}).encode()
        task = mapping.work_items(200, raw)[0].value
        self.assertIsNone(task.address)
        assert_wit_types(self, task)

    def test_a_count_is_ascii_digits_within_u32(self):
        for given, expected in (("54", 54), (" 54 ", 54), ("4294967295", 4294967295), ("4294967296", None),
                                ("-1", None), ("+5", None), ("1_000", None), ("\u0665", None), ("5.0", None), (54, 54),
                                ("0" * 9 + "54", 54), ("9" * 5000, None)):
            with self.subTest(given=given):
                task = mapping.work_items(200, json.dumps({"data": [dict(SPEC_TASK, total_installmentNumber=given)]}).encode())
                self.assertEqual(task[0].value.installments_total, expected)

    def test_a_task_without_a_contract_or_name_as_text_is_a_protocol_error(self):
        for broken in ({"contract_no": {"no": 1}}, {"name": ["TRIJAYA"]}, {"contract_no": None}):
            with self.subTest(broken=broken):
                with self.assertRaises(Err) as caught:
                    mapping.work_items(200, json.dumps({"data": [dict(SPEC_TASK, **broken)]}).encode())
                self.assertIsInstance(caught.exception.value, t.AdapterError_PartnerProtocol)

    def test_nan_is_not_json(self):
        with self.assertRaises(Err) as caught:
            mapping.work_items(200, b'{"data": [{"contract_no": "1", "name": "A", "osar": NaN}]}')
        self.assertIsInstance(caught.exception.value, t.AdapterError_PartnerProtocol)

    def test_a_body_without_data_is_a_protocol_error(self):
        with self.assertRaises(Err) as caught:
            mapping.work_items(200, b'{"tasks": []}')
        self.assertIsInstance(caught.exception.value, t.AdapterError_PartnerProtocol)


class Describe(unittest.TestCase):
    def test_the_adapter_declares_its_credentials_and_takes_no_extensions(self):
        description = mapping.description()
        self.assertEqual(description.version.split(".")[0], "2")
        self.assertEqual(
            [(c.name, c.kind) for c in description.credentials],
            [("partner", t.CredentialKind_Basic()), ("hash-key", t.CredentialKind_HashKey())],
        )
        self.assertEqual(description.extensions, [])


class Results(unittest.TestCase):
    def test_the_spec_example_result_body(self):
        body = mapping.result_body(spec_result(), "digest")
        self.assertEqual(body["collection_date"], "2021-12-29 00:00:00")
        self.assertEqual(body["promise_date"], "2021-12-31 00:00:00")
        self.assertEqual(body["period"], "0")
        self.assertEqual(body["hashing"], "digest")

    def test_a_utc_timestamp_is_sent_as_jakarta_local_time(self):
        body = mapping.result_body(
            spec_result(contacted_at="2021-12-28T17:00:00Z", promise_date="2021-12-30T17:00:00z"), "d"
        )
        self.assertEqual(body["collection_date"], "2021-12-29 00:00:00")
        self.assertEqual(body["promise_date"], "2021-12-31 00:00:00")

    def test_offsets_and_fractional_seconds_are_iso_8601_and_accepted(self):
        cases = {
            "2021-12-29T00:00:00+07:00": "2021-12-29 00:00:00",
            "2021-12-29T00:00:00+0700": "2021-12-29 00:00:00",
            "2021-12-29T00:00:00.123456+07:00": "2021-12-29 00:00:00",
            "2021-12-29T08:30:15.9": "2021-12-29 08:30:15",
            "2021-12-28T23:59:59.999Z": "2021-12-29 06:59:59",
            "2021-12-29T09:00:00+09:00": "2021-12-29 07:00:00",
            "2021-12-28T20:00:00-05:00": "2021-12-29 08:00:00",
            "2021-12-29T08:30": "2021-12-29 08:30:00",
            "2021-12-29": "2021-12-29 00:00:00",
        }
        for given, sent in cases.items():
            with self.subTest(given=given):
                self.assertEqual(mapping.result_body(spec_result(contacted_at=given), "d")["collection_date"], sent)

    def test_a_broken_timestamp_is_refused_naming_its_field(self):
        for given in ("2021-12-29T00:00:00+25:00", "2021-12-29T00:00:00.", "2021-13-29T00:00:00Z", "29-12-2021"):
            with self.subTest(given=given):
                with self.assertRaises(Err) as caught:
                    mapping.result_body(spec_result(promise_date=given), "d")
                paths = [i.path for i in caught.exception.value.value]
                self.assertEqual(paths, ["collection_result.promise_date"])

    def test_a_timestamp_past_the_years_desk_coll_writes_is_refused_naming_its_field(self):
        # Year 10000 and year 0 in Jakarta (past what `datetime` holds), and years below 1000.
        for given in ("9999-12-31T20:00:00Z", "0001-01-01T00:00:00+08:00", "0999-12-31T23:59:59", "0001-01-01"):
            with self.subTest(given=given):
                with self.assertRaises(Err) as caught:
                    mapping.result_body(spec_result(contacted_at=given), "d")
                self.assertIsInstance(caught.exception.value, t.AdapterError_InvalidRequest)
                paths = [i.path for i in caught.exception.value.value]
                self.assertEqual(paths, ["collection_result.contacted_at"])

    def test_the_first_and_last_years_desk_coll_writes_are_sent(self):
        cases = {
            "0999-12-31T20:00:00-05:00": "1000-01-01 08:00:00",
            "9999-12-31T23:59:59": "9999-12-31 23:59:59",
            "9999-12-31T16:59:59Z": "9999-12-31 23:59:59",
        }
        for given, sent in cases.items():
            with self.subTest(given=given):
                self.assertEqual(mapping.result_body(spec_result(contacted_at=given), "d")["collection_date"], sent)

    def test_every_oversized_field_is_named(self):
        with self.assertRaises(Err) as caught:
            mapping.result_body(spec_result(contract="9" * 26, result_code="X" * 11, contacted_at="29-12-2021"), "d")
        paths = sorted(i.path for i in caught.exception.value.value)
        self.assertEqual(paths, ["collection_result.contacted_at", "collection_result.contract", "collection_result.result_code"])

    def test_respon_codes(self):
        self.assertTrue(mapping.receipt(200, b'{"respon_code":"00","respon_mess":"Sukses"}').accepted)
        with self.assertRaises(Err) as caught:
            mapping.receipt(200, b'{"respon_code":"01","respon_mess":"Invalid hashing"}')
        self.assertEqual(caught.exception.value.value, t.Rejection("01", "Invalid hashing"))
        with self.assertRaises(Err) as caught:
            mapping.receipt(401, b"Unauthorized")
        self.assertIsInstance(caught.exception.value, t.AdapterError_Unauthorized)
        for status in (408, 429, 500, 503):
            with self.subTest(status=status):
                with self.assertRaises(Err) as caught:
                    mapping.receipt(status, b"busy")
                self.assertIsInstance(caught.exception.value, t.AdapterError_PartnerUnavailable)

    def test_a_400_keeps_the_partners_respon_code_and_message(self):
        message = "Format data tidak valid: `period` must be an integer " + "x" * 180
        answer = json.dumps({"respon_mess": message, "respon_code": "02"}).encode()
        for call in (mapping.receipt, mapping.work_items):
            with self.subTest(call=call.__name__):
                with self.assertRaises(Err) as caught:
                    call(400, answer)
                self.assertIsInstance(caught.exception.value, t.AdapterError_PartnerBadRequest)
                self.assertEqual(caught.exception.value.value, f"02 {message}")

    def test_an_answer_without_a_textual_respon_code_is_a_protocol_error(self):
        for body in (b'{"respon_code": {"c": 1}}', b'{"respon_code": "\\ud800"}', b"[]", b'"00"'):
            with self.subTest(body=body):
                with self.assertRaises(Err) as caught:
                    mapping.receipt(200, body)
                self.assertIsInstance(caught.exception.value, t.AdapterError_PartnerProtocol)

    def test_a_400_without_desk_colls_answer_keeps_the_body(self):
        for body in (b"<html>Bad Request</html>", b'{"respon_code": 2}', b"[]"):
            with self.subTest(body=body):
                with self.assertRaises(Err) as caught:
                    mapping.receipt(400, body)
                self.assertIsInstance(caught.exception.value, t.AdapterError_PartnerBadRequest)
                self.assertEqual(caught.exception.value.value, body.decode())


if __name__ == "__main__":
    unittest.main()
