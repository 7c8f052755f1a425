//! Generated gRPC code for every loyalty-suite contract in `proto/`, one module per package, and
//! the file descriptor set that servers register for reflection.

/// Encoded `FileDescriptorSet` of every loyalty proto, for gRPC reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("loyalty_descriptor");

macro_rules! package {
    ($name:ident, $path:literal) => {
        pub mod $name {
            pub mod v1 {
                tonic::include_proto!($path);
            }
        }
    };
}

package!(common, "loyalty.common.v1");
package!(events, "loyalty.events.v1");
package!(client, "loyalty.client.v1");
package!(card, "loyalty.card.v1");
package!(ledger, "loyalty.ledger.v1");
package!(segment, "loyalty.segment.v1");
package!(messaging, "loyalty.messaging.v1");
package!(importexport, "loyalty.importexport.v1");
