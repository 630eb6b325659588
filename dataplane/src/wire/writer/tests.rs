//! Tests of the response writer.

use super::*;

fn query() -> Vec<u8> {
    let mut m = vec![0xab, 0xcd, 0x01, 0x30, 0, 1, 0, 0, 0, 0, 0, 1];
    m.extend_from_slice(b"\x03Www\x05Local\x00\x00\x01\x00\x01");
    m
}

#[test]
fn start_rewrites_header_and_keeps_question() {
    let mut b = query();
    b.resize(512, 0);
    let r = Response::start(&mut b, 27, 512).unwrap();
    let n = r.finish(None);
    assert_eq!(n, 27);
    // QR set, RD and CD (0x10) kept, AD (0x20) cleared, ARCOUNT reset.
    assert_eq!(&b[..12], &[0xab, 0xcd, 0x81, 0x10, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(&b[12..27], b"\x03Www\x05Local\x00\x00\x01\x00\x01");
}

#[test]
fn push_uses_pointers_and_compresses_rdata_names() {
    let mut b = query();
    b.resize(512, 0);
    let mut r = Response::start(&mut b, 27, 512).unwrap();
    let q = Owner {
        name: b"\x03www\x05local\x00",
        at: Some(12),
    };
    let at = r
        .push(
            Section::Answer,
            q,
            rtype::CNAME,
            60,
            b"\x03web\x05LOCAL\x00",
        )
        .unwrap();
    // CNAME target compressed against the qname's "local".
    assert_eq!(&r.message()[at..], b"\x03web\xc0\x10");
    let t = Owner {
        name: b"\x03web\x05local\x00",
        at: Some(at),
    };
    r.push(Section::Answer, t, rtype::A, 60, &[10, 0, 0, 1])
        .unwrap();
    let n = r.finish(None);
    assert_eq!(&b[6..8], &[0, 2]);
    assert_eq!(
        &b[27..n],
        b"\xc0\x0c\x00\x05\x00\x01\x00\x00\x00\x3c\x00\x06\x03web\xc0\x10\
          \xc0\x27\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x0a\x00\x00\x01"
    );
}

#[test]
fn srv_targets_stay_uncompressed() {
    let mut b = query();
    b.resize(512, 0);
    let mut r = Response::start(&mut b, 27, 512).unwrap();
    let q = Owner {
        name: b"\x03www\x05local\x00",
        at: Some(12),
    };
    let rdata = b"\x00\x01\x00\x02\x00\x50\x03www\x05local\x00";
    let at = r.push(Section::Answer, q, rtype::SRV, 5, rdata).unwrap();
    assert_eq!(&r.message()[at..], rdata);
}

/// The question's name, at its place in [`query`].
const QNAME: Owner<'static> = Owner {
    name: b"\x03www\x05local\x00",
    at: Some(12),
};

#[test]
fn records_without_rdata_names_are_written_in_one_piece() {
    let mut b = [&query()[..], &[0; 485]].concat();
    let mut r = Response::start(&mut b, 27, 512).unwrap();
    let v6 = [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7];
    let at = r
        .push(Section::Answer, QNAME, rtype::AAAA, 0x0102_0304, &v6)
        .unwrap();
    assert_eq!(at, 27 + RECORD_HEAD_LEN);
    // An owner that is no pointer target yet goes the general way (written in full).
    let far = Owner {
        name: b"\x01a\x00",
        at: None,
    };
    r.push(Section::Additional, far, rtype::A, 5, &[10, 0, 0, 1])
        .unwrap();
    let n = r.finish(None);
    let mut want = b"\xc0\x0c\x00\x1c\x00\x01\x01\x02\x03\x04\x00\x10".to_vec();
    want.extend_from_slice(&v6);
    want.extend_from_slice(b"\x01a\x00\x00\x01\x00\x01\x00\x00\x00\x05\x00\x04\x0a\x00\x00\x01");
    assert_eq!(&b[27..n], &want[..]);
    assert_eq!((&b[6..8], &b[10..12]), (&[0, 1][..], &[0, 1][..]));
}

#[test]
fn records_that_do_not_fit_leave_nothing_behind() {
    let mut b = query();
    b.resize(512, 0);
    let mut r = Response::start(&mut b, 27, 27 + 16 + 11).unwrap();
    assert!(r.reserve_opt());
    let q = Owner {
        name: b"\x03www\x05local\x00",
        at: Some(12),
    };
    r.push(Section::Answer, q, rtype::A, 1, &[1, 2, 3, 4])
        .unwrap();
    assert_eq!(
        r.push(Section::Answer, q, rtype::A, 1, &[1, 2, 3, 5]),
        Err(WriteError::NoSpace)
    );
    assert_eq!(r.len(), 27 + 16);
    assert_eq!(r.count(Section::Answer), 1);
    r.set_rcode(16);
    let n = r.finish(Some((1232, false)));
    assert_eq!(n, 27 + 16 + 11);
    assert_eq!(&b[10..12], &[0, 1]);
    // BADVERS: header rcode 0, extended rcode 1 in the OPT.
    assert_eq!(b[3] & 0xf, 0);
    assert_eq!(b[n - 6], 1);
}

#[test]
fn rollback_undoes_an_rrset() {
    let mut b = query();
    b.resize(512, 0);
    let mut r = Response::start(&mut b, 27, 512).unwrap();
    let q = Owner {
        name: b"\x03www\x05local\x00",
        at: Some(12),
    };
    let m = r.mark();
    r.push(Section::Answer, q, rtype::NS, 1, b"\x02ns\x03org\x00")
        .unwrap();
    r.rollback(m);
    assert_eq!((r.len(), r.count(Section::Answer)), (27, 0));
    // The forgotten name is not used as a compression target.
    let at = r
        .push(Section::Answer, q, rtype::NS, 1, b"\x02ns\x03org\x00")
        .unwrap();
    assert_eq!(&r.message()[at..], b"\x02ns\x03org\x00");
}

#[test]
fn tiny_buffers_are_handled() {
    let mut b = [0u8; 11];
    assert!(Response::start(&mut b, 12, 512).is_none());
    let mut b = query();
    let mut r = Response::start(&mut b, 27, 512).unwrap();
    assert!(!r.reserve_opt());
    let q = Owner {
        name: b"\x03www\x05local\x00",
        at: Some(12),
    };
    assert_eq!(
        r.push(Section::Answer, q, rtype::A, 1, &[1, 2, 3, 4]),
        Err(WriteError::NoSpace)
    );
    assert_eq!(r.finish(Some((512, false))), 27);
}

#[test]
fn wire_name_len_checks_shape() {
    assert_eq!(wire_name_len(b"\x03abc\x00xyz"), Some(5));
    assert_eq!(wire_name_len(b"\x03ab"), None);
    assert_eq!(wire_name_len(b"\xc0\x0c"), None);
}
