// tokenvault/fwd.hpp: forward declarations and the default policy set.
#pragma once

namespace tokenvault {

namespace backend {
struct memory;
}
namespace cipher {
struct xchacha20poly1305;
}
namespace locking {
class threads;
}
namespace migration {
struct none;
}
namespace diagnostics {
struct none;
}

/// A token store assembled from five policies (store.hpp); `store_with<...>` names them in any order.
template <class Backend = backend::memory, class Cipher = cipher::xchacha20poly1305,
          class Locking = locking::threads, class Migration = migration::none,
          class Diagnostics = diagnostics::none>
class token_store;

}  // namespace tokenvault
