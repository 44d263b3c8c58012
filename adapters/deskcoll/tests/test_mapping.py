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


if __name__ == "__main__":
    unittest.main()
